// BPE pre-tokenization: the regex sequence llama.cpp uses for each
// tokenizer.ggml.pre value, run with PCRE2 exactly the way llama.cpp runs it
// (Unicode categories collapsed to one byte per code point), then GPT-2 byte
// encoding of each word.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer {

// Flags that llama.cpp ties to the pre-tokenizer type.
struct PreTokenizerFlags {
  bool clean_spaces = true;
  bool ignore_merges = false;
  bool add_bos = false;
  bool no_bos_token = false;  // the type has no BOS token at all
};

class PreTokenizer {
 public:
  // `pre` is tokenizer.ggml.pre ("" means llama.cpp's default). Throws
  // hearth::Error naming an unknown type.
  static std::shared_ptr<const PreTokenizer> create(std::string_view pre, PreTokenizerFlags* flags);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // The words of `text`, each GPT-2 byte-encoded.
  std::vector<std::string> split(std::string_view text) const;

  struct Pattern;

 private:
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Pattern>> patterns_;
  bool need_collapsed_ = false;
  bool need_wide_ = false;
};

// Every pre-tokenizer name this build knows.
std::vector<std::string> known_pre_tokenizers();

}  // namespace hearth::tokenizer

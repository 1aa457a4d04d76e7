// Tokenizers as llama.cpp runs them: SPM (`llama`), byte-level BPE (`gpt2`,
// with the pre-tokenizer named by tokenizer.ggml.pre) and WPM (`bert`), read
// from GGUF metadata. Encoding gives exactly llama.cpp's ids; decoding renders
// them back, and StreamDecoder does so one id at a time for streaming.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::gguf {
class File;
class Metadata;
}  // namespace hearth::gguf

namespace hearth::tokenizer {

struct Vocab;

class Tokenizer {
 public:
  static Tokenizer from_gguf(const hearth::gguf::File& file);  // throws hearth::Error naming the problem
  static Tokenizer from_metadata(const hearth::gguf::Metadata& metadata);

  // add_special: BOS/EOS (or CLS/SEP) as the model asks. parse_special: text
  // that spells a control token becomes that token (user-defined tokens are
  // always matched, as in llama.cpp).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // remove_special: drop a leading BOS / trailing EOS and render control
  // tokens as nothing; otherwise control tokens render as their text.
  std::string decode(std::span<const int32_t> ids, bool remove_special = false) const;
  std::string token_to_piece(int32_t id) const;  // bytes this token renders to
  // The same without a copy; empty for control tokens when remove_special.
  std::string_view piece(int32_t id, bool remove_special) const;
  int32_t n_vocab() const;
  int32_t bos() const;
  int32_t eos() const;  // -1 when absent
  int32_t eot() const;
  bool add_bos() const;
  bool add_eos() const;
  bool is_eog(int32_t id) const;  // end-of-generation set (eos, eot, eom, ...)
  bool is_control(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;
  const std::string& token_text(int32_t id) const;  // as stored in the vocabulary
  std::string model_name() const;                   // "llama", "gpt2" or "bert"
  std::string pre_name() const;                     // tokenizer.ggml.pre, "" when absent

  // Decoding of a segment for StreamDecoder: `first` applies the leading-space
  // and BOS rules that only hold at the start of a text; `clean` applies the
  // space clean-up (when the model uses it).
  std::string decode_segment(std::span<const int32_t> ids, bool remove_special, bool first, bool clean = true) const;
  bool cleans_spaces() const;
  // llama.cpp's clean_up_tokenization_spaces: " ," -> ",", " 's" -> "'s", ...
  static void clean_up_spaces(std::string& text);

 private:
  explicit Tokenizer(std::shared_ptr<const Vocab> vocab);
  std::shared_ptr<const Vocab> vocab_;
};

// Incremental decoding for streaming: push() returns only complete UTF-8 and
// holds back bytes that a later token could still change, so the pieces
// joined (and flush()ed) equal Tokenizer::decode of all the ids.
class StreamDecoder {
 public:
  // at_text_start: the ids begin a text, so the start-of-text rules apply
  // (SPM drops the leading space). Generated text that continues a prompt
  // passes false and keeps it, as llama.cpp prints it.
  explicit StreamDecoder(const Tokenizer& tok, bool remove_special = false, bool at_text_start = true);
  std::string push(int32_t id);  // complete UTF-8 only
  std::string flush();           // whatever is left (invalid bytes as U+FFFD)
  // Whatever is left followed by `continuation` (raw bytes that finish the
  // text, e.g. a grammar's completion, which may finish a pending character).
  std::string flush(std::string_view continuation);

 private:

  const Tokenizer* tok_;
  bool remove_special_;
  bool first_segment_ = true;
  std::vector<int32_t> segment_;  // ids since the last point where the text can no longer change
  size_t emitted_ = 0;            // bytes of the segment's text already returned
};

}  // namespace hearth::tokenizer

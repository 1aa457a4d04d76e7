// The vocabulary as llama.cpp loads it from GGUF metadata: token texts,
// scores and attributes, the special-token ids and flags, merge ranks, and
// the splitting of text around special tokens. Shared by every family.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace hearth::gguf {
class Metadata;
}

namespace hearth::tokenizer {

class PreTokenizer;

// Token attributes, bit for bit llama.cpp's llama_token_attr.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrNormalized = 1u << 6,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
  kAttrSingleWord = 1u << 9,
};

enum class ModelKind { Spm, Bpe, Wpm };

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;
};

// A piece of the input: raw text (token < 0) or a special token matched in it.
struct Fragment {
  int32_t token = -1;
  size_t offset = 0;
  size_t length = 0;
};

struct Vocab {
  ModelKind kind = ModelKind::Spm;
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre
  std::vector<TokenData> tokens;
  StringMap token_to_id;
  StringMap merge_ranks;  // key: left + '\n' + right (merge halves never hold '\n' in byte-level BPE)
  size_t max_token_len = 0;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;

  bool add_space_prefix = false;
  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool ignore_merges = false;
  bool clean_spaces = false;
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;
  bool lowercase = true;  // BERT normalizer
  bool strip_accents = true;

  std::vector<int32_t> special_tokens;  // control / user-defined / unknown, longest text first
  std::vector<bool> eog;                // end-of-generation, per id
  std::vector<std::string> pieces;      // what each token renders to (control tokens as their text)
  std::array<int32_t, 256> byte_tokens{};  // the token for each byte, -1 when none
  // SPM: the characters that occur in some token of two or more characters.
  // Any other character can never merge, so it splits the text into parts
  // that are merged independently (with the same result, in less time).
  std::unordered_set<std::string, StringHash, std::equal_to<>> mergeable_chars;
  std::shared_ptr<const PreTokenizer> pre_tokenizer;  // BPE only

  static std::shared_ptr<const Vocab> load(const gguf::Metadata& metadata);

  int32_t find(std::string_view text) const {
    const auto it = token_to_id.find(text);
    return it == token_to_id.end() ? -1 : it->second;
  }
  int32_t merge_rank(std::string_view left, std::string_view right, std::string& scratch) const;
  int32_t byte_token(uint8_t byte) const;  // throws when the vocabulary has none
  int32_t n_tokens() const { return int32_t(tokens.size()); }

  // Splits text around special tokens the way llama.cpp does: user-defined
  // tokens always, control and unknown ones only when parse_special.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
};

// The families; each appends the ids for one raw-text fragment.
void encode_spm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);
void encode_bpe(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);
void encode_wpm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace hearth::tokenizer

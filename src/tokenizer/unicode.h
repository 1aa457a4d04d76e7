// Unicode helpers shared by the tokenizers: UTF-8 decoding with llama.cpp's
// error handling, general categories (from PCRE2), the GPT-2 byte <-> code
// point map, and the lowercase / NFD mappings BERT normalization needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer::unicode {

enum class Category : uint8_t {
  Other = 0,  // unassigned (Cn), and anything not below
  Number,
  Letter,
  Punctuation,
  Mark,
  Symbol,
  Control,    // Cc, Cf, Co, Cs (assigned "other" code points)
  Separator,  // Z*
};

struct CodepointInfo {
  Category category = Category::Other;
  bool whitespace = false;  // Unicode White_Space
};

CodepointInfo info(uint32_t cpt);
inline bool is_whitespace(uint32_t cpt) { return info(cpt).whitespace; }

inline constexpr uint32_t kReplacement = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
inline size_t utf8_sequence_length(char lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[static_cast<uint8_t>(lead) >> 4];
}

// Decodes UTF-8 the way llama.cpp does: an invalid or truncated sequence
// becomes U+FFFD and consumes one byte.
std::vector<uint32_t> decode_utf8_lossy(std::string_view text);
void append_utf8(std::string& out, uint32_t cpt);  // cpt > 0x10FFFF -> U+FFFD
std::string to_utf8(uint32_t cpt);

// Length of the longest prefix of `bytes` that is complete, valid UTF-8.
// `incomplete_tail` is set when the rest is a valid but unfinished sequence.
size_t valid_utf8_prefix(std::string_view bytes, bool* incomplete_tail);

uint32_t to_lower(uint32_t cpt);
uint32_t nfd_first(uint32_t cpt);  // first code point of the canonical decomposition

// GPT-2 byte-level BPE: each byte is shown as a printable code point.
const std::string& byte_to_unicode(uint8_t byte);
// The byte a code point stands for, or -1.
int unicode_to_byte(uint32_t cpt);

}  // namespace hearth::tokenizer::unicode

#include "tokenizer/unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <memory>

#include "core/error.h"
#include "tokenizer/unicode_tables.h"

namespace hearth::tokenizer::unicode {
namespace {

constexpr uint32_t kCodepointLimit = 0x110000;
constexpr uint8_t kWhitespaceBit = 0x80;

struct CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

// Every code point (surrogates excepted, as UTF-8 cannot carry them) in order, as UTF-8.
std::string all_codepoints_utf8() {
  std::string text;
  text.reserve(4 * kCodepointLimit);
  for (uint32_t cpt = 0; cpt < kCodepointLimit; ++cpt) {
    if (cpt >= 0xD800 && cpt <= 0xDFFF) continue;
    append_utf8(text, cpt);
  }
  return text;
}

// Marks every code point matched by `pattern` (a run pattern such as
// "\p{L}+") by calling mark(cpt). The categories come from PCRE2's Unicode
// database rather than from tables of our own.
template <typename Mark>
void for_each_match(const std::string& all, const char* pattern, Mark mark) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  std::unique_ptr<pcre2_code, CodeDeleter> code(pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF, &error, &error_offset, nullptr));
  if (!code) fail("internal error: PCRE2 cannot compile category pattern '{}'", pattern);
  pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE);
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(pcre2_match_data_create_from_pattern(code.get(), nullptr));
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(all.data());
  PCRE2_SIZE offset = 0;
  while (offset < all.size()) {
    const int rc = pcre2_match(code.get(), subject, all.size(), offset, PCRE2_NO_UTF_CHECK, data.get(), nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const std::vector<uint32_t> cpts = decode_utf8_lossy(std::string_view(all).substr(ovector[0], ovector[1] - ovector[0]));
    for (uint32_t cpt : cpts) mark(cpt);
    offset = ovector[1] > ovector[0] ? ovector[1] : ovector[0] + 1;
  }
}

// One byte per code point: the Category in the low bits, kWhitespaceBit on top.
std::vector<uint8_t> build_info_table() {
  std::vector<uint8_t> table(kCodepointLimit, static_cast<uint8_t>(Category::Other));
  const std::string all = all_codepoints_utf8();
  const std::pair<const char*, Category> categories[] = {
      {"\\p{N}+", Category::Number},      {"\\p{L}+", Category::Letter},
      {"\\p{P}+", Category::Punctuation}, {"\\p{M}+", Category::Mark},
      {"\\p{S}+", Category::Symbol},      {"[\\p{Cc}\\p{Cf}\\p{Co}]+", Category::Control},
      {"\\p{Z}+", Category::Separator},
  };
  for (const auto& [pattern, category] : categories)
    for_each_match(all, pattern, [&](uint32_t cpt) { table[cpt] = static_cast<uint8_t>(category); });
  for (uint32_t cpt = 0xD800; cpt <= 0xDFFF; ++cpt) table[cpt] = static_cast<uint8_t>(Category::Control);
  for_each_match(all, "\\p{White_Space}+", [&](uint32_t cpt) { table[cpt] |= kWhitespaceBit; });
  return table;
}

const std::vector<uint8_t>& info_table() {
  static const std::vector<uint8_t> table = build_info_table();  // built once, never changed
  return table;
}

struct ByteMap {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, 512> codepoint_to_byte;  // the map only uses code points below 0x144
};

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
// the other 68 bytes are shifted to U+0100 onwards.
ByteMap build_byte_map() {
  ByteMap map;
  map.codepoint_to_byte.fill(-1);
  std::array<bool, 256> direct{};
  for (int b = 0x21; b <= 0x7E; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  int shifted = 0;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cpt = direct[b] ? uint32_t(b) : uint32_t(256 + shifted++);
    map.byte_to_text[b] = to_utf8(cpt);
    map.codepoint_to_byte[cpt] = int16_t(b);
  }
  return map;
}

const ByteMap& byte_map() {
  static const ByteMap map = build_byte_map();
  return map;
}

}  // namespace

CodepointInfo info(uint32_t cpt) {
  if (cpt >= kCodepointLimit) return {};
  const uint8_t packed = info_table()[cpt];
  return {static_cast<Category>(packed & 0x0F), (packed & kWhitespaceBit) != 0};
}

std::vector<uint32_t> decode_utf8_lossy(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t lead = byte(i);
    if (lead < 0x80) {
      out.push_back(lead);
      i += 1;
    } else if ((lead & 0xE0) == 0xC0 && continuation(i + 1)) {
      out.push_back(((lead & 0x1F) << 6) | (byte(i + 1) & 0x3F));
      i += 2;
    } else if ((lead & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
      out.push_back(((lead & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F));
      i += 3;
    } else if ((lead & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) && continuation(i + 3)) {
      out.push_back(((lead & 0x07) << 18) | ((byte(i + 1) & 0x3F) << 12) | ((byte(i + 2) & 0x3F) << 6) |
                    (byte(i + 3) & 0x3F));
      i += 4;
    } else {
      out.push_back(kReplacement);
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt <= 0x7F) {
    out.push_back(char(cpt));
  } else if (cpt <= 0x7FF) {
    out.push_back(char(0xC0 | (cpt >> 6)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out.push_back(char(0xE0 | (cpt >> 12)));
    out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0x10FFFF) {
    out.push_back(char(0xF0 | (cpt >> 18)));
    out.push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else {
    append_utf8(out, kReplacement);
  }
}

std::string to_utf8(uint32_t cpt) {
  std::string out;
  append_utf8(out, cpt);
  return out;
}

size_t valid_utf8_prefix(std::string_view bytes, bool* incomplete_tail) {
  if (incomplete_tail) *incomplete_tail = false;
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<uint8_t>(bytes[i]);
    size_t need = 0;
    uint32_t min = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1, min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2, min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3, min = 0x10000;
    } else {
      return i;  // invalid lead byte
    }
    uint32_t cpt = lead & (0x3F >> need);
    size_t k = 1;
    for (; k <= need && i + k < bytes.size(); ++k) {
      const auto b = static_cast<uint8_t>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cpt = (cpt << 6) | (b & 0x3F);
      // Reject overlong forms, surrogates and values past U+10FFFF as early as
      // the second byte allows, so an impossible prefix is not held back.
      if (k == 1) {
        if (lead == 0xE0 && b < 0xA0) return i;
        if (lead == 0xED && b > 0x9F) return i;
        if (lead == 0xF0 && b < 0x90) return i;
        if (lead == 0xF4 && b > 0x8F) return i;
      }
    }
    if (k <= need) {
      if (incomplete_tail) *incomplete_tail = true;
      return i;
    }
    if (cpt < min) return i;
    i += need + 1;
  }
  return i;
}

uint32_t to_lower(uint32_t cpt) {
  const auto table = lowercase_table();
  const auto it = std::lower_bound(table.begin(), table.end(), cpt,
                                   [](const CodepointPair& pair, uint32_t value) { return pair.from < value; });
  return (it != table.end() && it->from == cpt) ? it->to : cpt;
}

uint32_t nfd_first(uint32_t cpt) {
  const auto table = nfd_first_table();
  auto it = std::upper_bound(table.begin(), table.end(), cpt,
                             [](uint32_t value, const NfdRange& range) { return value < range.first; });
  if (it == table.begin()) return cpt;
  --it;
  return (it->first <= cpt && cpt <= it->last) ? it->nfd : cpt;
}

const std::string& byte_to_unicode(uint8_t byte) { return byte_map().byte_to_text[byte]; }

int unicode_to_byte(uint32_t cpt) {
  const auto& map = byte_map().codepoint_to_byte;
  return cpt < map.size() ? map[cpt] : -1;
}

}  // namespace hearth::tokenizer::unicode

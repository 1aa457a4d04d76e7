// Generated Unicode tables (see gen_unicode_tables.py): the simple lowercase
// mapping and the first code point of each canonical decomposition. General
// categories are not tabulated here; they come from PCRE2 (unicode.cpp).
#pragma once

#include <cstdint>
#include <span>

namespace hearth::tokenizer::unicode {

struct CodepointPair {
  uint32_t from;
  uint32_t to;
};

// Code points first..last all decompose (NFD) to a sequence starting with nfd.
struct NfdRange {
  uint32_t first;
  uint32_t last;
  uint32_t nfd;
};

std::span<const CodepointPair> lowercase_table();  // sorted by from
std::span<const NfdRange> nfd_first_table();       // sorted by first

}  // namespace hearth::tokenizer::unicode

// The parsed grammar before compilation to bytes: rules of alternatives of
// symbols, where a symbol is a rule reference or a set of code points.
// Repetition and grouping are already rewritten into helper rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::grammar {

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

struct CodepointRange {
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const CodepointRange&) const = default;
};

struct Symbol {
  int32_t rule = -1;                    // >= 0: a rule reference
  std::vector<CodepointRange> ranges;   // otherwise: sorted, disjoint, no surrogates
};

using Sequence = std::vector<Symbol>;

struct SymbolicRule {
  std::string name;
  std::vector<Sequence> alternatives;
  bool defined = false;
  size_t first_use = 0;  // byte offset of the first reference, for errors
};

struct SymbolicGrammar {
  std::vector<SymbolicRule> rules;
  std::string source;
};

// Parses GBNF text (throws hearth::Error with line:column).
SymbolicGrammar parse_gbnf(std::string_view text);

// "line L, column C" for a byte offset into text.
std::string describe_position(std::string_view text, size_t offset);

// Normalizes ranges: sorts, merges, drops surrogates (U+D800..U+DFFF can not
// be encoded in UTF-8); with negate, the complement over all code points.
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges, bool negate);

}  // namespace hearth::grammar

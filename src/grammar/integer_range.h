// Integer bounds as grammar: the canonical decimal spellings ("0", "-12",
// never "-0" or "007") of exactly the integers in [low, high].
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hearth::grammar {

// A GBNF expression; an absent bound is unbounded on that side.
// Requires low <= high when both are given.
std::string integer_range_gbnf(std::optional<int64_t> low, std::optional<int64_t> high);

}  // namespace hearth::grammar

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

// Decimal numbers (no exponent) between optional bounds, each inclusive or
// exclusive. Throws std::invalid_argument for bounds beyond 1e15 or bounds
// that leave no value.
std::string number_range_gbnf(std::optional<double> low, bool low_exclusive, std::optional<double> high,
                              bool high_exclusive);

}  // namespace hearth::grammar

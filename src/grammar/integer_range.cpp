// Integer ranges as regular expressions over digits: split by number of
// digits, then for equal-length bounds walk the digits from the left (the
// usual range-to-regex construction).
#include "grammar/integer_range.h"

#include <vector>

#include <fmt/format.h>

namespace hearth::grammar {

namespace {

std::string join_alternatives(const std::vector<std::string>& alternatives) {
  if (alternatives.size() == 1) return alternatives[0];
  std::string out = "(";
  for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : "") + alternatives[i];
  return out + ")";
}

std::string digit_class(char first, char last) {
  if (first == last) return fmt::format("\"{}\"", first);
  return fmt::format("[{}-{}]", first, last);
}

// Digit strings s of low's length with low <= s <= high.
std::string same_length_range(const std::string& low, const std::string& high) {
  if (low.empty()) return "";
  const size_t rest = low.size() - 1;
  const std::string tail_low = low.substr(1), tail_high = high.substr(1);
  if (low[0] == high[0]) {
    const std::string tail = same_length_range(tail_low, tail_high);
    return digit_class(low[0], low[0]) + (tail.empty() ? "" : " " + tail);
  }
  const std::string any_tail = rest == 0 ? "" : fmt::format(" [0-9]{{{}}}", rest);
  if (tail_low == std::string(rest, '0') && tail_high == std::string(rest, '9'))
    return digit_class(low[0], high[0]) + any_tail;
  std::vector<std::string> alternatives;
  alternatives.push_back(digit_class(low[0], low[0]) + " " + same_length_range(tail_low, std::string(rest, '9')));
  if (low[0] + 1 <= high[0] - 1) alternatives.push_back(digit_class(char(low[0] + 1), char(high[0] - 1)) + any_tail);
  alternatives.push_back(digit_class(high[0], high[0]) + " " + same_length_range(std::string(rest, '0'), tail_high));
  return join_alternatives(alternatives);
}

uint64_t power_of_ten(size_t digits) {
  uint64_t p = 1;
  for (size_t i = 0; i < digits; ++i) p *= 10;
  return p;
}

// Positive integers in [low, high] (low >= 1), high absent = unbounded.
std::string positive_range(uint64_t low, std::optional<uint64_t> high) {
  const size_t low_digits = std::to_string(low).size();
  const size_t high_digits = high ? std::to_string(*high).size() : low_digits;
  std::vector<std::string> alternatives;
  for (size_t length = low_digits; length <= high_digits; ++length) {
    const uint64_t from = std::max(low, power_of_ten(length - 1));
    const uint64_t to = high && length == high_digits ? *high : power_of_ten(length) - 1;
    alternatives.push_back(same_length_range(std::to_string(from), std::to_string(to)));
  }
  if (!high) alternatives.push_back(fmt::format("[1-9] [0-9]{{{},}}", low_digits));
  return join_alternatives(alternatives);
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> low, std::optional<int64_t> high) {
  std::vector<std::string> alternatives;
  // Negative part: -x for x in [max(1, -high), -low].
  if (!low || *low < 0) {
    const uint64_t magnitude_low = high && *high < 0 ? uint64_t(-*high) : 1;
    const std::string magnitudes =
        low ? positive_range(magnitude_low, uint64_t(-*low)) : positive_range(magnitude_low, std::nullopt);
    alternatives.push_back("\"-\" " + magnitudes);
  }
  // Zero and the positive part.
  if (!high || *high >= 0) {
    if (!low || *low <= 0) alternatives.push_back("\"0\"");
    if (!high || *high >= 1) {
      const uint64_t from = low && *low > 1 ? uint64_t(*low) : 1;
      alternatives.push_back(positive_range(from, high ? std::optional<uint64_t>(uint64_t(*high)) : std::nullopt));
    }
  }
  return join_alternatives(alternatives);
}

}  // namespace hearth::grammar

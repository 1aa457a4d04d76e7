// Integer ranges as regular expressions over digits: split by number of
// digits, then for equal-length bounds walk the digits from the left (the
// usual range-to-regex construction).
#include "grammar/integer_range.h"

#include <cmath>
#include <stdexcept>
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

namespace hearth::grammar {

namespace {

// Fraction digits D (what follows the point) with low <= 0.D (< when
// low_strict) and, given `high`, 0.D <= high (<). Bounds are digit strings
// without trailing zeros. Returns a GBNF expression, "" for no string at all;
// the empty D (value 0) is included only with allow_empty.
std::string fraction_between(const std::string& low, const std::optional<std::string>& high, bool low_strict,
                             bool high_strict, bool allow_empty) {
  std::vector<std::string> alternatives;
  const bool zero_fits = low.empty() && !low_strict && !(high && high->empty() && high_strict);
  if (high && low.empty() && high->empty()) {  // value exactly 0: zeros only
    if (!zero_fits) return "";
    return allow_empty ? "\"0\"*" : "\"0\"+";
  }
  if (allow_empty && zero_fits) alternatives.push_back("\"\"");
  const char low_digit = low.empty() ? '0' : low[0];
  const std::string low_rest = low.empty() ? "" : low.substr(1);
  auto add = [&](char digit, const std::string& rest) {
    if (!rest.empty()) alternatives.push_back(digit_class(digit, digit) + " " + rest);
  };
  if (!high) {
    if (low.empty()) {
      alternatives.push_back(low_strict ? "\"0\"* [1-9] [0-9]*" : "[0-9]+");
    } else {
      if (low_digit < '9') alternatives.push_back(digit_class(char(low_digit + 1), '9') + " [0-9]*");
      add(low_digit, fraction_between(low_rest, std::nullopt, low_strict, false, true));
    }
  } else {
    const char high_digit = high->empty() ? '0' : (*high)[0];
    const std::string high_rest = high->empty() ? "" : high->substr(1);
    if (low_digit == high_digit) {
      add(low_digit, fraction_between(low_rest, high_rest, low_strict, high_strict, true));
    } else if (low_digit < high_digit) {
      add(low_digit, fraction_between(low_rest, std::nullopt, low_strict, false, true));
      if (low_digit + 1 <= high_digit - 1)
        alternatives.push_back(digit_class(char(low_digit + 1), char(high_digit - 1)) + " [0-9]*");
      add(high_digit, fraction_between("", high_rest, false, high_strict, true));
    }
  }
  if (alternatives.empty()) return "";
  return join_alternatives(alternatives);
}

struct Decimal {
  uint64_t integer = 0;
  std::string fraction;  // digits after the point, no trailing zeros
};

// Magnitudes m with low <= m (or <) and m <= high (or <), written as
// canonical integer digits and an optional fraction, no exponent.
std::string magnitude_range(const Decimal& low, bool low_strict, const std::optional<Decimal>& high, bool high_strict) {
  std::vector<std::string> alternatives;
  // Integer digits, then a fraction from `fraction` or none (value .0).
  auto with_fraction = [&](uint64_t integer, const std::string& fraction, bool none_fits) {
    const std::string head = fmt::format("\"{}\"", integer);
    if (fraction.empty()) {
      if (none_fits) alternatives.push_back(head);
      return;
    }
    alternatives.push_back(head + (none_fits ? " (\".\" " + fraction + ")?" : " \".\" " + fraction));
  };
  const bool low_zero_fits = low.fraction.empty() && !low_strict;
  if (high && high->integer == low.integer) {
    const bool none_fits = low_zero_fits && !(high->fraction.empty() && high_strict);
    with_fraction(low.integer, fraction_between(low.fraction, high->fraction, low_strict, high_strict, false), none_fits);
  } else {
    with_fraction(low.integer, fraction_between(low.fraction, std::nullopt, low_strict, false, false), low_zero_fits);
    const std::string any_fraction = "(\".\" [0-9]+)?";
    if (!high) {
      alternatives.push_back(integer_range_gbnf(int64_t(low.integer + 1), std::nullopt) + " " + any_fraction);
    } else {
      if (high->integer > low.integer + 1)
        alternatives.push_back(integer_range_gbnf(int64_t(low.integer + 1), int64_t(high->integer - 1)) + " " + any_fraction);
      with_fraction(high->integer, fraction_between("", high->fraction, false, high_strict, false),
                    !(high->fraction.empty() && high_strict));
    }
  }
  if (alternatives.empty()) return "";
  return join_alternatives(alternatives);
}

// A bound as a decimal; throws for magnitudes the grammar does not take.
std::optional<std::pair<bool, Decimal>> to_decimal(std::optional<double> value) {
  if (!value) return std::nullopt;
  if (!(std::fabs(*value) < 1e15)) throw std::invalid_argument("number bound beyond 1e15");
  // Shortest round-trip digits, then placed by the exponent.
  std::string text = fmt::format("{}", *value);
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    text = text.substr(1);
  }
  int exponent = 0;
  if (const size_t e = text.find_first_of("eE"); e != std::string::npos) {
    exponent = std::stoi(text.substr(e + 1));
    text = text.substr(0, e);
  }
  std::string digits = text;
  size_t point = digits.find('.');
  if (point == std::string::npos) point = digits.size();
  else digits.erase(point, 1);
  long position = long(point) + exponent;  // where the point goes in `digits`
  if (position < 0) {
    digits.insert(0, size_t(-position), '0');
    position = 0;
  }
  if (size_t(position) > digits.size()) digits.append(size_t(position) - digits.size(), '0');
  Decimal d;
  const std::string integer = digits.substr(0, size_t(position));
  d.integer = integer.empty() ? 0 : std::stoull(integer);
  d.fraction = digits.substr(size_t(position));
  while (!d.fraction.empty() && d.fraction.back() == '0') d.fraction.pop_back();
  if (d.integer == 0 && d.fraction.empty()) negative = false;
  return std::make_pair(negative, d);
}

bool is_zero(const Decimal& d) { return d.integer == 0 && d.fraction.empty(); }

}  // namespace

std::string number_range_gbnf(std::optional<double> low, bool low_exclusive, std::optional<double> high,
                              bool high_exclusive) {
  const auto lo = to_decimal(low), hi = to_decimal(high);
  const bool lo_negative = lo && lo->first, hi_negative = hi && hi->first;
  std::vector<std::string> alternatives;
  // x >= 0 part: magnitude in [max(low, 0), high].
  const bool zero_or_more_possible = !hi || (!hi_negative && !(is_zero(hi->second) && high_exclusive));
  if (zero_or_more_possible) {
    const bool from_low = lo && !lo->first;
    const Decimal from = from_low ? lo->second : Decimal{};
    std::optional<Decimal> to;
    if (hi) to = hi->second;
    const std::string part = magnitude_range(from, from_low && low_exclusive, to, high_exclusive);
    if (!part.empty()) alternatives.push_back(part);
  }
  // x < 0 part: "-" and a magnitude in (max(0, -high), -low].
  if (!lo || lo_negative) {
    Decimal from;
    bool from_strict = true;  // never zero: "-0" is not written
    if (hi_negative) {
      from = hi->second;
      from_strict = high_exclusive;
    }
    std::optional<Decimal> to;
    if (lo) to = lo->second;
    const std::string part = magnitude_range(from, from_strict, to, low_exclusive);
    if (!part.empty()) alternatives.push_back("\"-\" " + part);
  }
  if (alternatives.empty()) throw std::invalid_argument("number bounds leave no value");
  return join_alternatives(alternatives);
}

}  // namespace hearth::grammar

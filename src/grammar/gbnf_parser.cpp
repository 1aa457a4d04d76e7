// GBNF parser (the dialect is documented in docs/grammar.md). Grouping and
// repetition become helper rules here, so the compiler only sees rules made of
// rule references and code point sets.
#include <algorithm>
#include <map>

#include "core/error.h"
#include "grammar/symbolic.h"

namespace hearth::grammar {

std::string describe_position(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("line {}, column {}", line, column);
}

std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges, bool negate) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CodepointRange& a, const CodepointRange& b) { return a.first < b.first; });
  std::vector<CodepointRange> merged;
  for (const CodepointRange& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1)
      merged.back().last = std::max(merged.back().last, r.last);
    else
      merged.push_back(r);
  }
  if (negate) {
    std::vector<CodepointRange> complement;
    uint32_t next = 0;
    for (const CodepointRange& r : merged) {
      if (r.first > next) complement.push_back({next, r.first - 1});
      next = r.last + 1;
    }
    if (next <= kMaxCodepoint) complement.push_back({next, kMaxCodepoint});
    merged = std::move(complement);
  }
  // Cut out the surrogate block.
  std::vector<CodepointRange> result;
  for (const CodepointRange& r : merged) {
    if (r.last < 0xD800 || r.first > 0xDFFF) {
      result.push_back(r);
      continue;
    }
    if (r.first < 0xD800) result.push_back({r.first, 0xD7FF});
    if (r.last > 0xDFFF) result.push_back({0xE000, r.last});
  }
  return result;
}

namespace {

// Largest {m,n} bound: repetition expands into n copies, so keep it sane.
constexpr uint64_t kMaxRepetition = 100000;
// All repetitions of a grammar together: each copy is a symbol or a rule, so
// this bounds the memory a small grammar text can ask for.
constexpr uint64_t kMaxExpandedCopies = 250000;
// Parenthesised groups nest by recursion.
constexpr int kMaxGroupDepth = 256;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { grammar_.source = std::string(text); }

  SymbolicGrammar run() {
    skip_space(true);
    while (!at_end()) {
      parse_rule();
      skip_space(true);
    }
    for (const SymbolicRule& rule : grammar_.rules)
      if (!rule.defined)
        fail_at(rule.first_use, "rule '{}' is used but never defined", rule.name);
    return std::move(grammar_);
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail_at(size_t offset, fmt::format_string<Args...> format, Args&&... args) {
    hearth::fail("grammar error at {}: {}", describe_position(text_, offset),
                 fmt::format(format, std::forward<Args>(args)...));
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  // Skips blanks and comments; newlines too when they may continue the rule
  // (inside parentheses, after '|' or '::=') or between rules.
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '\n' && newlines) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    if (pos_ == start) fail_at(start, "expected a rule name");
    return std::string(text_.substr(start, pos_ - start));
  }

  int32_t rule_id(const std::string& name, size_t use_offset) {
    auto it = rule_ids_.find(name);
    if (it != rule_ids_.end()) return it->second;
    const int32_t id = int32_t(grammar_.rules.size());
    SymbolicRule rule;
    rule.name = name;
    rule.first_use = use_offset;
    grammar_.rules.push_back(std::move(rule));
    rule_ids_.emplace(name, id);
    return id;
  }

  // A helper rule for a group or repetition; '/' can not occur in user names.
  int32_t new_helper_rule(std::vector<Sequence> alternatives) {
    const int32_t id = rule_id(fmt::format("{}/{}", current_rule_, helper_count_++), pos_);
    grammar_.rules[size_t(id)].alternatives = std::move(alternatives);
    grammar_.rules[size_t(id)].defined = true;
    return id;
  }

  void parse_rule() {
    const size_t start = pos_;
    current_rule_ = parse_name();
    helper_count_ = 0;
    skip_space(false);
    if (text_.substr(pos_, 3) != "::=") fail_at(pos_, "expected '::=' after rule name '{}'", current_rule_);
    pos_ += 3;
    skip_space(true);
    const int32_t id = rule_id(current_rule_, start);
    if (grammar_.rules[size_t(id)].defined) fail_at(start, "rule '{}' is defined twice", current_rule_);
    grammar_.rules[size_t(id)].defined = true;
    std::vector<Sequence> alternatives = parse_alternatives(false);
    grammar_.rules[size_t(id)].alternatives = std::move(alternatives);
    skip_space(false);
    if (!at_end() && peek() != '\n') fail_at(pos_, "unexpected '{}' after the rule body", peek());
  }

  std::vector<Sequence> parse_alternatives(bool nested) {
    std::vector<Sequence> alternatives;
    alternatives.push_back(parse_sequence(nested));
    while (peek() == '|') {
      ++pos_;
      skip_space(true);
      alternatives.push_back(parse_sequence(nested));
    }
    return alternatives;
  }

  Sequence parse_sequence(bool nested) {
    Sequence sequence;
    size_t last_start = 0;  // index in sequence where the last item's symbols begin
    bool have_last = false;
    while (!at_end()) {
      const char c = peek();
      const size_t item_offset = pos_;
      if (c == '"') {
        ++pos_;
        last_start = sequence.size();
        while (peek() != '"') {
          if (at_end() || peek() == '\n') fail_at(item_offset, "unterminated string literal");
          const uint32_t cp = parse_char();
          sequence.push_back(Symbol{-1, {{cp, cp}}});
        }
        ++pos_;
        have_last = sequence.size() > last_start;
        if (!have_last) {
          // "" matches nothing; a postfix operator on it has nothing to repeat.
          skip_space(nested);
          if (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')
            fail_at(pos_, "repetition of an empty string");
          continue;
        }
      } else if (c == '[') {
        last_start = sequence.size();
        sequence.push_back(parse_class());
        have_last = true;
      } else if (c == '.') {
        ++pos_;
        last_start = sequence.size();
        sequence.push_back(Symbol{-1, normalize_ranges({{0, kMaxCodepoint}}, false)});
        have_last = true;
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        if (++group_depth_ > kMaxGroupDepth) fail_at(item_offset, "groups nest deeper than {} levels", kMaxGroupDepth);
        std::vector<Sequence> group = parse_alternatives(true);
        --group_depth_;
        if (peek() != ')') fail_at(item_offset, "expected ')' to close this group");
        ++pos_;
        last_start = sequence.size();
        sequence.push_back(Symbol{new_helper_rule(std::move(group)), {}});
        have_last = true;
      } else if (is_name_char(c)) {
        const std::string name = parse_name();
        last_start = sequence.size();
        sequence.push_back(Symbol{rule_id(name, item_offset), {}});
        have_last = true;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_last) fail_at(pos_, "'{}' has nothing before it to repeat", c);
        apply_repetition(sequence, last_start);
        have_last = false;  // "a**" is an error, as in llama.cpp
      } else if (c == '|' || c == ')' || c == '\n') {
        break;
      } else {
        fail_at(pos_, "unexpected character '{}'", c);
      }
      skip_space(nested);
      if (!nested && peek() == '\n') break;
    }
    return sequence;
  }

  // Rewrites the last item (symbols from `start` on) under a postfix operator.
  void apply_repetition(Sequence& sequence, size_t start) {
    const size_t op_offset = pos_;
    uint64_t min_count = 0, max_count = 0;
    bool unbounded = false;
    const char op = peek();
    ++pos_;
    if (op == '*') {
      unbounded = true;
    } else if (op == '+') {
      min_count = 1;
      unbounded = true;
    } else if (op == '?') {
      max_count = 1;
    } else {
      skip_space(false);
      min_count = parse_count();
      skip_space(false);
      if (peek() == ',') {
        ++pos_;
        skip_space(false);
        if (peek() == '}') {
          unbounded = true;
        } else {
          max_count = parse_count();
        }
      } else {
        max_count = min_count;
      }
      skip_space(false);
      if (peek() != '}') fail_at(pos_, "expected '}}' to close the repetition");
      ++pos_;
      if (!unbounded && max_count < min_count)
        fail_at(op_offset, "repetition {{{},{}}} has its maximum below its minimum", min_count, max_count);
    }
    expanded_copies_ += std::max(min_count, max_count);
    if (expanded_copies_ > kMaxExpandedCopies)
      fail_at(op_offset, "the repetitions expand into more than {} copies in all", kMaxExpandedCopies);
    // The item as one symbol: a single symbol stays, a literal becomes a rule.
    Sequence item(sequence.begin() + long(start), sequence.end());
    sequence.resize(start);
    const Symbol unit = item.size() == 1 ? item[0] : Symbol{new_helper_rule({item}), {}};
    for (uint64_t i = 0; i < min_count; ++i) sequence.push_back(unit);
    if (unbounded) {
      // star ::= unit star | ""
      const int32_t star = new_helper_rule({});
      grammar_.rules[size_t(star)].alternatives = {{unit, Symbol{star, {}}}, {}};
      sequence.push_back(Symbol{star, {}});
    } else if (max_count > min_count) {
      // Nested optionals, innermost first: opt_k ::= unit opt_{k-1} | ""
      int32_t inner = -1;
      for (uint64_t i = min_count; i < max_count; ++i) {
        Sequence with_unit = {unit};
        if (inner >= 0) with_unit.push_back(Symbol{inner, {}});
        inner = new_helper_rule({with_unit, {}});
      }
      sequence.push_back(Symbol{inner, {}});
    }
  }

  uint64_t parse_count() {
    const size_t start = pos_;
    uint64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + uint64_t(peek() - '0');
      if (value > kMaxRepetition) fail_at(start, "repetition count is above {}", kMaxRepetition);
      ++pos_;
    }
    if (pos_ == start) fail_at(start, "expected a number in the repetition");
    return value;
  }

  Symbol parse_class() {
    const size_t start = pos_;
    ++pos_;  // '['
    bool negate = false;
    if (peek() == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<CodepointRange> ranges;
    while (peek() != ']') {
      if (at_end()) fail_at(start, "unterminated character class");
      const uint32_t first = parse_char();
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        last = parse_char();
        if (last < first) fail_at(start, "character range is reversed (U+{:04X} > U+{:04X})", first, last);
      }
      ranges.push_back({first, last});
    }
    ++pos_;  // ']'
    if (ranges.empty()) fail_at(start, "empty character class");
    std::vector<CodepointRange> normalized = normalize_ranges(std::move(ranges), negate);
    if (normalized.empty()) fail_at(start, "character class matches no character");
    return Symbol{-1, std::move(normalized)};
  }

  // One character of a literal or class: UTF-8 or an escape.
  uint32_t parse_char() {
    const size_t start = pos_;
    const auto byte = uint8_t(peek());
    if (byte == '\\') {
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': return '\\';
        case '"': return '"';
        case '[': return '[';
        case ']': return ']';
        case '-': return '-';
        case '^': return '^';
        case '/': return '/';
        case 'x': return parse_hex(2, start);
        case 'u': return parse_hex(4, start);
        case 'U': return parse_hex(8, start);
        default: fail_at(start, "unknown escape '\\{}'", e);
      }
    }
    // Decode UTF-8 from the grammar text itself.
    int length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || pos_ + size_t(length) > text_.size()) fail_at(start, "invalid UTF-8 in the grammar");
    uint32_t cp = length == 1 ? byte : length == 2 ? byte & 0x1F : length == 3 ? byte & 0x0F : byte & 0x07;
    for (int i = 1; i < length; ++i) {
      const auto next = uint8_t(text_[pos_ + size_t(i)]);
      if ((next & 0xC0) != 0x80) fail_at(start, "invalid UTF-8 in the grammar");
      cp = (cp << 6) | (next & 0x3F);
    }
    pos_ += size_t(length);
    return cp;
  }

  uint32_t parse_hex(int digits, size_t start) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
      if (d < 0) fail_at(start, "expected {} hex digits in this escape", digits);
      value = value * 16 + uint32_t(d);
      ++pos_;
    }
    if (value > kMaxCodepoint || (value >= 0xD800 && value <= 0xDFFF))
      fail_at(start, "escape U+{:X} is not a Unicode scalar value", value);
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
  SymbolicGrammar grammar_;
  std::map<std::string, int32_t> rule_ids_;
  std::string current_rule_;
  int helper_count_ = 0;
  int group_depth_ = 0;
  uint64_t expanded_copies_ = 0;
};

}  // namespace

SymbolicGrammar parse_gbnf(std::string_view text) { return Parser(text).run(); }

}  // namespace hearth::grammar

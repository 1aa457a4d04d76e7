// Compiles a parsed grammar to bytes: every code point set becomes byte-range
// steps (UTF-8 encoded), so the matcher works on raw token bytes and a token
// ending inside a multi-byte character is an ordinary intermediate state.
#include <map>
#include <utility>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/symbolic.h"

namespace hearth::grammar {

namespace {

using ByteRange = std::pair<uint8_t, uint8_t>;
using ByteSequence = std::vector<ByteRange>;

int utf8_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

std::vector<uint8_t> utf8_encode(uint32_t cp) {
  if (cp < 0x80) return {uint8_t(cp)};
  if (cp < 0x800) return {uint8_t(0xC0 | (cp >> 6)), uint8_t(0x80 | (cp & 0x3F))};
  if (cp < 0x10000)
    return {uint8_t(0xE0 | (cp >> 12)), uint8_t(0x80 | ((cp >> 6) & 0x3F)), uint8_t(0x80 | (cp & 0x3F))};
  return {uint8_t(0xF0 | (cp >> 18)), uint8_t(0x80 | ((cp >> 12) & 0x3F)), uint8_t(0x80 | ((cp >> 6) & 0x3F)),
          uint8_t(0x80 | (cp & 0x3F))};
}

// Splits a code point range into sequences of byte ranges whose product is
// exactly the UTF-8 encodings of that range (the classic construction: split
// at encoding-length boundaries, then until every continuation byte below the
// split point spans its full 0x80..0xBF).
void utf8_sequences(uint32_t first, uint32_t last, std::vector<ByteSequence>& out) {
  static constexpr uint32_t kLengthLimits[] = {0x7F, 0x7FF, 0xFFFF};
  for (uint32_t limit : kLengthLimits) {
    if (first <= limit && last > limit) {
      utf8_sequences(first, limit, out);
      utf8_sequences(limit + 1, last, out);
      return;
    }
  }
  const int length = utf8_length(first);
  for (int i = 1; i < length; ++i) {
    const uint32_t mask = (uint32_t(1) << (6 * i)) - 1;
    if ((first & ~mask) != (last & ~mask)) {
      if ((first & mask) != 0) {
        utf8_sequences(first, first | mask, out);
        utf8_sequences((first | mask) + 1, last, out);
        return;
      }
      if ((last & mask) != mask) {
        utf8_sequences(first, (last & ~mask) - 1, out);
        utf8_sequences(last & ~mask, last, out);
        return;
      }
    }
  }
  const std::vector<uint8_t> low = utf8_encode(first), high = utf8_encode(last);
  ByteSequence sequence;
  for (size_t i = 0; i < low.size(); ++i) sequence.emplace_back(low[i], high[i]);
  out.push_back(std::move(sequence));
}

}  // namespace

class GrammarCompiler {
 public:
  explicit GrammarCompiler(const SymbolicGrammar& symbolic) : symbolic_(symbolic) {}

  Grammar compile(std::string_view root) {
    grammar_.source_ = symbolic_.source;
    const size_t n_rules = symbolic_.rules.size();
    grammar_.rule_names_.resize(n_rules);
    grammar_.rule_alternatives_.resize(n_rules);
    bool have_root = false;
    for (size_t r = 0; r < n_rules; ++r) {
      grammar_.rule_names_[r] = symbolic_.rules[r].name;
      if (symbolic_.rules[r].name == root) {
        grammar_.root_ = int32_t(r);
        have_root = true;
      }
    }
    if (!have_root) fail("grammar has no rule named '{}' to start from", root);
    for (size_t r = 0; r < n_rules; ++r) {
      for (const Sequence& alternative : symbolic_.rules[r].alternatives) {
        std::vector<Element> steps;
        for (const Symbol& symbol : alternative) append_symbol(symbol, steps);
        add_alternative(int32_t(r), steps);
      }
    }
    check_left_recursion();
    return std::move(grammar_);
  }

 private:
  void add_alternative(int32_t rule, const std::vector<Element>& steps) {
    grammar_.rule_alternatives_[size_t(rule)].push_back(int32_t(grammar_.elements_.size()));
    grammar_.elements_.insert(grammar_.elements_.end(), steps.begin(), steps.end());
    grammar_.elements_.push_back(Element{Element::Kind::End, 0});
  }

  int32_t byte_set_index(const ByteSet& set) {
    auto it = byte_set_ids_.find(set.words);
    if (it != byte_set_ids_.end()) return it->second;
    const auto id = int32_t(grammar_.byte_sets_.size());
    grammar_.byte_sets_.push_back(set);
    byte_set_ids_.emplace(set.words, id);
    return id;
  }

  Element bytes_element(uint8_t first, uint8_t last) {
    ByteSet set;
    set.add_range(first, last);
    return Element{Element::Kind::Bytes, byte_set_index(set)};
  }

  void append_symbol(const Symbol& symbol, std::vector<Element>& steps) {
    if (symbol.rule >= 0) {
      steps.push_back(Element{Element::Kind::Rule, symbol.rule});
      return;
    }
    // Single-byte encodings merge into one byte set; longer ones stay apart.
    ByteSet ascii;
    bool have_ascii = false;
    std::vector<ByteSequence> multi;
    for (const CodepointRange& range : symbol.ranges) {
      std::vector<ByteSequence> sequences;
      utf8_sequences(range.first, range.last, sequences);
      for (ByteSequence& s : sequences) {
        if (s.size() == 1) {
          ascii.add_range(s[0].first, s[0].second);
          have_ascii = true;
        } else {
          multi.push_back(std::move(s));
        }
      }
    }
    if (multi.empty()) {
      steps.push_back(Element{Element::Kind::Bytes, byte_set_index(ascii)});
      return;
    }
    if (!have_ascii && multi.size() == 1) {
      for (const ByteRange& r : multi[0]) steps.push_back(bytes_element(r.first, r.second));
      return;
    }
    // Several encodings: a helper rule with one alternative per sequence,
    // shared by every use of the same set.
    std::vector<uint32_t> key;
    for (const CodepointRange& r : symbol.ranges) key.insert(key.end(), {r.first, r.last});
    auto it = class_rules_.find(key);
    if (it == class_rules_.end()) {
      const auto rule = int32_t(grammar_.rule_names_.size());
      grammar_.rule_names_.push_back(fmt::format("<class {}>", rule));
      grammar_.rule_alternatives_.emplace_back();
      if (have_ascii) add_alternative(rule, {Element{Element::Kind::Bytes, byte_set_index(ascii)}});
      for (const ByteSequence& s : multi) {
        std::vector<Element> seq_steps;
        for (const ByteRange& r : s) seq_steps.push_back(bytes_element(r.first, r.second));
        add_alternative(rule, seq_steps);
      }
      it = class_rules_.emplace(std::move(key), rule).first;
    }
    steps.push_back(Element{Element::Kind::Rule, it->second});
  }

  // A top-down matcher loops forever on a rule that can reach itself without
  // consuming a byte; find that here and name the rule.
  void check_left_recursion() {
    const size_t n = grammar_.rule_names_.size();
    std::vector<uint8_t> nullable(n, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (int32_t start : grammar_.rule_alternatives_[r]) {
          bool all_nullable = true;
          for (int32_t p = start; grammar_.elements_[size_t(p)].kind != Element::Kind::End; ++p) {
            const Element& e = grammar_.elements_[size_t(p)];
            if (e.kind == Element::Kind::Bytes || !nullable[size_t(e.value)]) {
              all_nullable = false;
              break;
            }
          }
          if (all_nullable) {
            nullable[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    // Edges r -> s where s can start r's match.
    std::vector<std::vector<int32_t>> left_edges(n);
    for (size_t r = 0; r < n; ++r) {
      for (int32_t start : grammar_.rule_alternatives_[r]) {
        for (int32_t p = start; grammar_.elements_[size_t(p)].kind == Element::Kind::Rule; ++p) {
          const int32_t s = grammar_.elements_[size_t(p)].value;
          left_edges[r].push_back(s);
          if (!nullable[size_t(s)]) break;
        }
      }
    }
    enum : uint8_t { kWhite, kGrey, kBlack };
    std::vector<uint8_t> color(n, kWhite);
    // Iterative DFS: grammars from large schemas are deep.
    std::vector<std::pair<int32_t, size_t>> stack;
    for (size_t start = 0; start < n; ++start) {
      if (color[start] != kWhite) continue;
      stack.emplace_back(int32_t(start), 0);
      color[start] = kGrey;
      while (!stack.empty()) {
        auto& [rule, next] = stack.back();
        if (next < left_edges[size_t(rule)].size()) {
          const int32_t s = left_edges[size_t(rule)][next++];
          if (color[size_t(s)] == kGrey)
            fail("grammar error: rule '{}' is left-recursive (it can reach itself without consuming input)",
                 user_rule_name(s));
          if (color[size_t(s)] == kWhite) {
            color[size_t(s)] = kGrey;
            stack.emplace_back(s, 0);
          }
        } else {
          color[size_t(rule)] = kBlack;
          stack.pop_back();
        }
      }
    }
  }

  // Helper rules are named "parent/N"; errors name the rule the user wrote.
  std::string user_rule_name(int32_t rule) const {
    const std::string& name = grammar_.rule_names_[size_t(rule)];
    return name.substr(0, name.find('/'));
  }

  const SymbolicGrammar& symbolic_;
  Grammar grammar_;
  std::map<std::array<uint64_t, 4>, int32_t> byte_set_ids_;
  std::map<std::vector<uint32_t>, int32_t> class_rules_;
};

Grammar Grammar::parse(std::string_view gbnf, std::string_view root) {
  const SymbolicGrammar symbolic = parse_gbnf(gbnf);
  return GrammarCompiler(symbolic).compile(root);
}

}  // namespace hearth::grammar

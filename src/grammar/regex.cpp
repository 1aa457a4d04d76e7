// A recursive-descent reader for the regex subset, writing GBNF as it goes.
// Character sets are code point ranges; each becomes a class of the
// characters written raw in JSON plus literals for those written escaped.
#include "grammar/regex.h"

#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "grammar/symbolic.h"

namespace hearth::grammar {

namespace {

using Ranges = std::vector<CodepointRange>;

const Ranges kDigits = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
// ECMAScript WhiteSpace and LineTerminator.
const Ranges kSpace = {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
                       {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

std::string class_codepoint(uint32_t cp) {
  return cp <= 0xFFFF ? fmt::format("\\u{:04X}", cp) : fmt::format("\\U{:08X}", cp);
}

// The escaped spelling hearth writes for a character that JSON escapes.
std::string escaped_literal(uint32_t cp) {
  switch (cp) {
    case '"': return R"("\\\"")";
    case '\\': return R"("\\\\")";
    case '\b': return R"("\\b")";
    case '\f': return R"("\\f")";
    case '\n': return R"("\\n")";
    case '\r': return R"("\\r")";
    case '\t': return R"("\\t")";
    default: return fmt::format("\"\\\\u{:04x}\"", cp);
  }
}

class RegexReader {
 public:
  RegexReader(std::string_view pattern, std::string_view json_char) : p_(pattern), json_char_(json_char) {}

  std::string run() {
    bool anchored_start = false, anchored_end = false;
    std::string_view body = p_;
    if (!body.empty() && body[0] == '^') {
      anchored_start = true;
      body.remove_prefix(1);
    }
    if (!body.empty() && body.back() == '$' && !ends_escaped(body)) {
      anchored_end = true;
      body.remove_suffix(1);
    }
    p_ = body;
    if ((anchored_start || anchored_end) && has_top_level_alternation())
      throw std::invalid_argument("anchors with a top-level '|' (wrap the alternatives in a group)");
    std::string expression = alternation();
    if (pos_ != p_.size()) fail("unbalanced ')'");
    // Unanchored ends match anywhere: any characters may come before/after.
    std::string out;
    if (!anchored_start) out.append(json_char_).append("* ");
    out.append("(").append(expression).append(")");
    if (!anchored_end) out.append(" ").append(json_char_).append("*");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(fmt::format("regex feature not supported at offset {}: {}", pos_, what));
  }

  static bool ends_escaped(std::string_view s) {
    size_t backslashes = 0;
    for (size_t i = s.size() - 1; i-- > 0 && s[i] == '\\';) ++backslashes;
    return backslashes % 2 == 1;
  }

  bool has_top_level_alternation() const {
    int depth = 0;
    bool in_class = false;
    for (size_t i = 0; i < p_.size(); ++i) {
      const char c = p_[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      } else if (c == '|' && depth == 0) {
        return true;
      }
    }
    return false;
  }

  bool at_end() const { return pos_ >= p_.size(); }
  char peek() const { return at_end() ? '\0' : p_[pos_]; }

  std::string alternation() {
    std::string out = sequence();
    while (peek() == '|') {
      ++pos_;
      out += " | " + sequence();
    }
    return out;
  }

  std::string sequence() {
    std::string out;
    while (!at_end() && peek() != '|' && peek() != ')') {
      std::string item = atom();
      item = quantified(item);
      out += (out.empty() ? "" : " ") + item;
    }
    return out.empty() ? "\"\"" : out;
  }

  std::string quantified(const std::string& item) {
    std::string suffix;
    const char c = peek();
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      suffix = std::string(1, c);
    } else if (c == '{' && pos_ + 1 < p_.size() && std::isdigit(uint8_t(p_[pos_ + 1]))) {
      const size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos) fail("unclosed '{'");
      suffix = std::string(p_.substr(pos_, close - pos_ + 1));
      pos_ = close + 1;
    } else {
      return item;
    }
    if (peek() == '?') ++pos_;  // lazy: the same language
    if (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{') fail("possessive or doubled quantifier");
    return "(" + item + ")" + suffix;
  }

  std::string atom() {
    const char c = peek();
    if (c == '(') {
      ++pos_;
      if (peek() == '?') {
        if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
          pos_ += 2;
        } else {
          fail("lookaround or named group '(?'");
        }
      }
      // Groups nest by recursion here and in the GBNF parser.
      if (++group_depth_ > 128) fail("groups nested deeper than 128 levels");
      std::string inner = alternation();
      --group_depth_;
      if (peek() != ')') fail("unclosed '('");
      ++pos_;
      return "(" + inner + ")";
    }
    if (c == '[') return render(char_class());
    if (c == '.') {
      ++pos_;
      return render(normalize_ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, true));
    }
    if (c == '^' || c == '$') fail(fmt::format("anchor '{}' inside the pattern", c));
    if (c == '*' || c == '+' || c == '?' || c == '{') fail("quantifier with nothing to repeat");
    if (c == '\\') {
      Ranges set;
      escape(set, false);
      return render(normalize_ranges(set, false));
    }
    const uint32_t cp = utf8();
    return render({{cp, cp}});
  }

  uint32_t utf8() {
    const auto lead = uint8_t(p_[pos_]);
    const int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (pos_ + size_t(length) > p_.size()) fail("invalid UTF-8");
    uint32_t cp = length == 1 ? lead : length == 2 ? lead & 0x1F : length == 3 ? lead & 0x0F : lead & 0x07;
    for (int i = 1; i < length; ++i) cp = (cp << 6) | (uint8_t(p_[pos_ + size_t(i)]) & 0x3F);
    pos_ += size_t(length);
    return cp;
  }

  uint32_t hex(size_t digits) {
    if (pos_ + digits > p_.size()) fail("short hex escape");
    const uint32_t value = uint32_t(std::stoul(std::string(p_.substr(pos_, digits)), nullptr, 16));
    pos_ += digits;
    return value;
  }

  // One escape, added to `set`; returns whether it was a single character
  // (so it may start or end a class range).
  bool escape(Ranges& set, bool in_class) {
    ++pos_;  // '\'
    if (at_end()) fail("trailing '\\'");
    const char e = p_[pos_++];
    auto single = [&](uint32_t cp) {
      set.push_back({cp, cp});
      return true;
    };
    auto add = [&](const Ranges& ranges, bool negate) {
      for (const CodepointRange& r : normalize_ranges(ranges, negate)) set.push_back(r);
      return false;
    };
    switch (e) {
      case 'd': return add(kDigits, false);
      case 'D': return add(kDigits, true);
      case 'w': return add(kWord, false);
      case 'W': return add(kWord, true);
      case 's': return add(kSpace, false);
      case 'S': return add(kSpace, true);
      case 't': return single('\t');
      case 'n': return single('\n');
      case 'r': return single('\r');
      case 'f': return single('\f');
      case 'v': return single('\v');
      case '0': return single(0);
      case 'x': return single(hex(2));
      case 'u': return single(hex(4));
      case 'b':
        if (in_class) return single('\b');
        fail("word boundary '\\b'");
      default:
        if (std::string_view("^$\\.*+?()[]{}|/-\"'").find(e) != std::string_view::npos) return single(uint8_t(e));
        fail(fmt::format("escape '\\{}'", e));
    }
  }

  Ranges char_class() {
    ++pos_;  // '['
    bool negate = false;
    if (peek() == '^') {
      negate = true;
      ++pos_;
    }
    Ranges set;
    bool first = true;
    while (at_end() || peek() != ']' || first) {
      if (at_end()) fail("unclosed '['");
      first = false;
      uint32_t low = 0;
      bool is_single = true;
      if (peek() == '\\') {
        Ranges escaped;
        is_single = escape(escaped, true);
        if (!is_single) {
          set.insert(set.end(), escaped.begin(), escaped.end());
          continue;
        }
        low = escaped[0].first;
      } else {
        low = utf8();
      }
      if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        uint32_t high;
        if (peek() == '\\') {
          Ranges escaped;
          if (!escape(escaped, true)) fail("class escape as a range end");
          high = escaped[0].first;
        } else {
          high = utf8();
        }
        if (high < low) fail("reversed range");
        set.push_back({low, high});
      } else {
        set.push_back({low, low});
      }
    }
    ++pos_;  // ']'
    return normalize_ranges(set, negate);
  }

  // A code point set as JSON string content.
  std::string render(const Ranges& set) const {
    std::vector<std::string> alternatives;
    for (const CodepointRange& r : set) {
      for (uint32_t cp = r.first; cp <= std::min<uint32_t>(r.last, 0x1F); ++cp) alternatives.push_back(escaped_literal(cp));
      for (uint32_t cp : {uint32_t('"'), uint32_t('\\')})
        if (r.first <= cp && cp <= r.last) alternatives.push_back(escaped_literal(cp));
    }
    Ranges kept;
    for (const CodepointRange& r : set) {
      if (r.last < 0x20) continue;
      const uint32_t from = std::max<uint32_t>(r.first, 0x20);
      // Split around '"' and '\', which are written escaped.
      uint32_t start = from;
      for (uint32_t cut : {uint32_t('"'), uint32_t('\\')}) {
        if (cut < start || cut > r.last) continue;
        if (cut > start) kept.push_back({start, cut - 1});
        start = cut + 1;
      }
      if (start <= r.last) kept.push_back({start, r.last});
    }
    if (!kept.empty()) {
      std::string cls = "[";
      for (const CodepointRange& r : kept)
        cls += r.first == r.last ? class_codepoint(r.first) : class_codepoint(r.first) + "-" + class_codepoint(r.last);
      alternatives.insert(alternatives.begin(), cls + "]");
    }
    if (alternatives.empty()) throw std::invalid_argument("a character set in the pattern matches nothing");
    if (alternatives.size() == 1) return alternatives[0];
    std::string out = "(";
    for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : "") + alternatives[i];
    return out + ")";
  }

  std::string_view p_;
  std::string_view json_char_;
  size_t pos_ = 0;
  int group_depth_ = 0;
};

}  // namespace

std::string regex_to_gbnf(std::string_view pattern, std::string_view json_char) {
  return RegexReader(pattern, json_char).run();
}

}  // namespace hearth::grammar

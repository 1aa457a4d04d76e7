#include "chat/jinja/lexer.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "chat/jinja/error.h"
#include "chat/jinja/pystr.h"

namespace hearth::chat::jinja {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Jinja2 normalizes \r\n and \r to \n and drops one trailing newline
// (keep_trailing_newline=False).
std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& name) : src_(std::move(source)), name_(name) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t open = find_tag_open(pos_);
      if (open == std::string::npos) {
        emit_data(src_.substr(pos_));
        pos_ = src_.size();
        break;
      }
      char kind = src_[open + 1];  // '{', '%' or '#'
      char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
      std::string text = src_.substr(pos_, open - pos_);
      if (sign == '-') {
        size_t keep = text.size();
        while (keep > 0 && is_ws(text[keep - 1])) --keep;
        text.resize(keep);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop spaces and tabs between the start of the line
        // and a block or comment tag.
        size_t line_start = text.rfind('\n');
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        if (line_start > 0 || line_starting) {
          bool only_ws = line_start < text.size() &&
                         std::all_of(text.begin() + long(line_start), text.end(), [](char c) { return is_ws(c); });
          if (only_ws) text.resize(line_start);
        }
      }
      emit_data(text);
      line_ += int(std::count(src_.begin() + long(pos_), src_.begin() + long(open), '\n'));
      pos_ = open + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        line_starting = lex_comment();
      } else if (kind == '%' && lex_raw()) {
        line_starting = last_end_had_newline_;
      } else if (kind == '%') {
        tokens_.push_back({TokenType::BlockBegin, "", line_});
        line_starting = lex_tag(true);
      } else {
        tokens_.push_back({TokenType::VariableBegin, "", line_});
        line_starting = lex_tag(false);
      }
    }
    tokens_.push_back({TokenType::Eof, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateError(ErrorKind::Syntax, message, name_, line_);
  }

  size_t find_tag_open(size_t from) const {
    size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
      ++p;
    }
    return std::string::npos;
  }

  void emit_data(const std::string& text) {
    if (text.empty()) return;
    tokens_.push_back({TokenType::Data, text, line_});
  }

  // Skips whitespace after a "-" end marker; returns whether the consumed
  // text ended with a newline (Jinja's line_starting).
  bool skip_trailing_ws() {
    size_t start = pos_;
    while (pos_ < src_.size() && is_ws(src_[pos_])) ++pos_;
    line_ += int(std::count(src_.begin() + long(start), src_.begin() + long(pos_), '\n'));
    return pos_ > start && src_[pos_ - 1] == '\n';
  }

  bool lex_comment() {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail("Missing end of comment tag");
    line_ += int(std::count(src_.begin() + long(pos_), src_.begin() + long(end), '\n'));
    char before = end > pos_ ? src_[end - 1] : '\0';
    pos_ = end + 2;
    if (before == '-') return skip_trailing_ws();
    if (before == '+') return false;
    return trim_newline();
  }

  // Matches `\s*name\s*` then an end of block tag at pos_; returns the
  // position after "%}" and whether it was "-%}" / "+%}", or npos.
  size_t match_simple_tag(size_t at, std::string_view name, char& end_sign) const {
    size_t p = at;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, name.size(), name) != 0) return std::string::npos;
    p += name.size();
    if (p < src_.size() && is_name_char(src_[p])) return std::string::npos;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    end_sign = '\0';
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return std::string::npos;
    return p + 2;
  }

  // {% raw %}...{% endraw %}: the content is literal text.
  bool lex_raw() {
    char sign = '\0';
    size_t after = match_simple_tag(pos_, "raw", sign);
    if (after == std::string::npos) return false;
    size_t content_start = after;
    if (sign == '-')
      while (content_start < src_.size() && is_ws(src_[content_start])) ++content_start;
    size_t search = content_start;
    for (;;) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) fail("Missing end of raw directive");
      size_t tag = open + 2;
      char open_sign = '\0';
      if (tag < src_.size() && (src_[tag] == '-' || src_[tag] == '+')) open_sign = src_[tag++];
      char end_sign = '\0';
      size_t end = match_simple_tag(tag, "endraw", end_sign);
      if (end == std::string::npos) {
        search = open + 2;
        continue;
      }
      std::string text = src_.substr(content_start, open - content_start);
      if (open_sign == '-') {
        while (!text.empty() && is_ws(text.back())) text.pop_back();
      } else if (open_sign != '+') {
        size_t line_start = text.rfind('\n');
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        if (line_start > 0 && line_start < text.size() &&
            std::all_of(text.begin() + long(line_start), text.end(), [](char c) { return is_ws(c); }))
          text.resize(line_start);
      }
      emit_data(text);
      line_ += int(std::count(src_.begin() + long(pos_), src_.begin() + long(end), '\n'));
      pos_ = end;
      if (end_sign == '-')
        last_end_had_newline_ = skip_trailing_ws();
      else if (end_sign == '+')
        last_end_had_newline_ = false;
      else
        last_end_had_newline_ = trim_newline();
      return true;
    }
  }

  // trim_blocks: one newline right after a block or comment tag is dropped.
  bool trim_newline() {
    if (pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
    return false;
  }

  bool lex_tag(bool block) {
    std::vector<char> balance;
    for (;;) {
      if (pos_ >= src_.size()) fail(block ? "unexpected end of template, expected end of block tag" : "unexpected end of template, expected '}}'");
      if (balance.empty()) {
        if (block) {
          if (src_.compare(pos_, 3, "-%}") == 0) {
            pos_ += 3;
            tokens_.push_back({TokenType::BlockEnd, "", line_});
            return skip_trailing_ws();
          }
          if (src_.compare(pos_, 3, "+%}") == 0) {
            pos_ += 3;
            tokens_.push_back({TokenType::BlockEnd, "", line_});
            return false;
          }
          if (src_.compare(pos_, 2, "%}") == 0) {
            pos_ += 2;
            tokens_.push_back({TokenType::BlockEnd, "", line_});
            return trim_newline();
          }
        } else {
          if (src_.compare(pos_, 3, "-}}") == 0) {
            pos_ += 3;
            tokens_.push_back({TokenType::VariableEnd, "", line_});
            return skip_trailing_ws();
          }
          if (src_.compare(pos_, 2, "}}") == 0) {
            pos_ += 2;
            tokens_.push_back({TokenType::VariableEnd, "", line_});
            return false;
          }
        }
      }
      char c = src_[pos_];
      if (is_ws(c)) {
        if (c == '\n') ++line_;
        ++pos_;
        continue;
      }
      if (is_digit(c)) {
        lex_number();
        continue;
      }
      if (is_name_start(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        tokens_.push_back({TokenType::Name, src_.substr(start, pos_ - start), line_});
        continue;
      }
      if (c == '\'' || c == '"') {
        lex_string();
        continue;
      }
      lex_operator(balance);
    }
  }

  void lex_number() {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    };
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && std::string_view("xXoObB").find(src_[pos_ + 1]) != std::string_view::npos) {
      int base = (src_[pos_ + 1] == 'x' || src_[pos_ + 1] == 'X') ? 16 : (src_[pos_ + 1] == 'o' || src_[pos_ + 1] == 'O') ? 8 : 2;
      pos_ += 2;
      size_t d = pos_;
      while (pos_ < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
      std::string text;
      for (size_t i = d; i < pos_; ++i)
        if (src_[i] != '_') text.push_back(src_[i]);
      Token t{TokenType::Integer, src_.substr(start, pos_ - start), line_};
      t.int_value = std::strtoll(text.c_str(), nullptr, base);
      tokens_.push_back(std::move(t));
      return;
    }
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t save = pos_;
      ++pos_;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && is_digit(src_[pos_])) {
        is_float = true;
        digits();
      } else {
        pos_ = save;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i)
      if (src_[i] != '_') text.push_back(src_[i]);
    Token t{is_float ? TokenType::Float : TokenType::Integer, text, line_};
    if (is_float)
      t.float_value = std::strtod(text.c_str(), nullptr);
    else
      t.int_value = std::strtoll(text.c_str(), nullptr, 10);
    tokens_.push_back(std::move(t));
  }

  void lex_string() {
    char quote = src_[pos_++];
    int start_line = line_;
    std::string value;
    for (;;) {
      if (pos_ >= src_.size()) fail("unexpected end of string");
      char c = src_[pos_++];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (pos_ >= src_.size()) fail("unexpected end of string");
      char e = src_[pos_++];
      switch (e) {
        case 'n': value.push_back('\n'); break;
        case 't': value.push_back('\t'); break;
        case 'r': value.push_back('\r'); break;
        case '0': value.push_back('\0'); break;
        case 'a': value.push_back('\a'); break;
        case 'b': value.push_back('\b'); break;
        case 'f': value.push_back('\f'); break;
        case 'v': value.push_back('\v'); break;
        case '\\': value.push_back('\\'); break;
        case '\'': value.push_back('\''); break;
        case '"': value.push_back('"'); break;
        case '\n': ++line_; break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (pos_ + n > src_.size()) fail("truncated escape in string literal");
          std::string hex = src_.substr(pos_, n);
          pos_ += n;
          pystr::append_utf8(value, char32_t(std::strtoul(hex.c_str(), nullptr, 16)));
          break;
        }
        default:
          value.push_back('\\');
          value.push_back(e);
      }
    }
    tokens_.push_back({TokenType::String, std::move(value), start_line});
  }

  void lex_operator(std::vector<char>& balance) {
    static constexpr std::string_view kLong[] = {"//", "**", "==", "!=", ">=", "<="};
    for (auto op : kLong) {
      if (src_.compare(pos_, op.size(), op) == 0) {
        tokens_.push_back({TokenType::Operator, std::string(op), line_});
        pos_ += op.size();
        return;
      }
    }
    char c = src_[pos_];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos)
      fail(fmt::format("unexpected char '{}'", c));
    if (c == '(' || c == '[' || c == '{') balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(fmt::format("unexpected '{}'", c));
      if (balance.back() != c) fail(fmt::format("unexpected '{}', expected '{}'", c, balance.back()));
      balance.pop_back();
    }
    tokens_.push_back({TokenType::Operator, std::string(1, c), line_});
    ++pos_;
  }

  std::string src_;
  const std::string& name_;
  size_t pos_ = 0;
  int line_ = 1;
  bool last_end_had_newline_ = false;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& template_name) {
  return Lexer(normalize_source(source), template_name).run();
}

}  // namespace hearth::chat::jinja

// Scanning helpers shared by the output parsers: markers that may still be
// arriving, JSON extents, call objects, and Python-literal call lists.
#include <cctype>

#include "chat/output/formats.h"

namespace hearth::chat::output {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::string ltrim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && is_space(s[b])) ++b;
  return std::string(s.substr(b));
}

std::string rtrim(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && is_space(s[e - 1])) --e;
  return std::string(s.substr(0, e));
}

std::string trim(std::string_view s) { return rtrim(ltrim(s)); }

size_t partial_marker_start(std::string_view text, std::string_view marker) {
  if (marker.empty()) return std::string_view::npos;
  size_t longest = std::min(text.size(), marker.size() - 1);
  for (size_t k = longest; k > 0; --k)
    if (text.substr(text.size() - k) == marker.substr(0, k)) return text.size() - k;
  return std::string_view::npos;
}

std::optional<size_t> json_value_end(std::string_view text, size_t start) {
  if (start >= text.size() || (text[start] != '{' && text[start] != '[')) return std::nullopt;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::nullopt;
}

std::optional<nlohmann::ordered_json> parse_json_object(std::string_view text) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::optional<std::string> arguments_text(const nlohmann::ordered_json& arguments) {
  if (arguments.is_object()) return arguments.dump();
  if (arguments.is_string()) {
    auto inner = parse_json_object(arguments.get<std::string>());
    if (inner) return inner->dump();
  }
  return std::nullopt;
}

std::optional<ToolCall> call_from_json(const nlohmann::ordered_json& object) {
  const nlohmann::ordered_json* source = &object;
  if (object.contains("function") && object["function"].is_object()) source = &object["function"];
  if (!source->contains("name") || !(*source)["name"].is_string()) return std::nullopt;
  ToolCall call;
  call.name = (*source)["name"].get<std::string>();
  if (call.name.empty()) return std::nullopt;
  const char* keys[] = {"arguments", "parameters"};
  call.arguments = "{}";
  for (const char* key : keys) {
    if (source->contains(key)) {
      auto text = arguments_text((*source)[key]);
      if (!text) return std::nullopt;
      call.arguments = *text;
      break;
    }
  }
  if (object.contains("id") && object["id"].is_string()) call.id = object["id"].get<std::string>();
  return call;
}

namespace {

// A Python literal (what models write as call arguments), as JSON.
class PythonLiteralParser {
 public:
  PythonLiteralParser(std::string_view text, size_t pos) : s_(text), pos_(pos) {}
  size_t pos() const { return pos_; }

  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }

  std::optional<std::string> identifier(bool dotted) {
    skip_ws();
    if (pos_ >= s_.size() || !is_ident_start(s_[pos_])) return std::nullopt;
    size_t start = pos_;
    while (pos_ < s_.size() && (is_ident_char(s_[pos_]) || (dotted && s_[pos_] == '.'))) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  std::optional<nlohmann::ordered_json> value() {
    skip_ws();
    if (pos_ >= s_.size()) return std::nullopt;
    char c = s_[pos_];
    if (c == '\'' || c == '"') return string_literal();
    if (c == '[' || c == '(') {
      char close = c == '[' ? ']' : ')';
      ++pos_;
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      while (!eat(close)) {
        auto v = value();
        if (!v) return std::nullopt;
        list.push_back(std::move(*v));
        if (!eat(',') && !peek(close)) return std::nullopt;
      }
      return list;
    }
    if (c == '{') {
      ++pos_;
      nlohmann::ordered_json dict = nlohmann::ordered_json::object();
      while (!eat('}')) {
        auto k = value();
        if (!k || !eat(':')) return std::nullopt;
        auto v = value();
        if (!v) return std::nullopt;
        dict[k->is_string() ? k->get<std::string>() : k->dump()] = std::move(*v);
        if (!eat(',') && !peek('}')) return std::nullopt;
      }
      return dict;
    }
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = pos_;
      ++pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                  ((s_[pos_] == '-' || s_[pos_] == '+') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E'))))
        ++pos_;
      auto number = nlohmann::ordered_json::parse(s_.substr(start, pos_ - start), nullptr, false);
      if (number.is_discarded() || !number.is_number()) return std::nullopt;
      return number;
    }
    if (is_ident_start(c)) {
      size_t start = pos_;
      auto word = identifier(true);
      if (*word == "True" || *word == "true") return nlohmann::ordered_json(true);
      if (*word == "False" || *word == "false") return nlohmann::ordered_json(false);
      if (*word == "None" || *word == "null") return nlohmann::ordered_json(nullptr);
      // A bare word (models sometimes leave strings unquoted): up to the
      // next separator, as text.
      pos_ = start;
      while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ')' && s_[pos_] != ']' && s_[pos_] != '}') ++pos_;
      return nlohmann::ordered_json(rtrim(s_.substr(start, pos_ - start)));
    }
    return std::nullopt;
  }

  // name(a=1, b='x'); a trailing ".call" (Llama's built-in tools) is dropped.
  std::optional<ToolCall> call() {
    auto name = identifier(true);
    if (!name || !eat('(')) return std::nullopt;
    const std::string suffix = ".call";
    if (name->size() > suffix.size() && name->compare(name->size() - suffix.size(), suffix.size(), suffix) == 0)
      name->resize(name->size() - suffix.size());
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    while (!eat(')')) {
      auto key = identifier(false);
      if (!key || !eat('=')) return std::nullopt;
      auto v = value();
      if (!v) return std::nullopt;
      args[*key] = std::move(*v);
      if (!eat(',') && !peek(')')) return std::nullopt;
    }
    return ToolCall{"", *name, args.dump()};
  }

 private:
  std::optional<nlohmann::ordered_json> string_literal() {
    char quote = s_[pos_++];
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == quote) return nlohmann::ordered_json(out);
      if (c != '\\' || pos_ >= s_.size()) {
        out.push_back(c);
        continue;
      }
      char e = s_[pos_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        default: out.push_back(e);
      }
    }
    return std::nullopt;
  }

  std::string_view s_;
  size_t pos_;
};

}  // namespace

std::optional<std::pair<std::vector<ToolCall>, size_t>> parse_python_call_list(std::string_view text, size_t start) {
  PythonLiteralParser p(text, start);
  if (!p.eat('[')) return std::nullopt;
  std::vector<ToolCall> calls;
  while (!p.eat(']')) {
    auto call = p.call();
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    if (!p.eat(',') && !p.peek(']')) return std::nullopt;
  }
  if (calls.empty()) return std::nullopt;
  return std::make_pair(std::move(calls), p.pos());
}

std::optional<ToolCall> parse_python_call(std::string_view text) {
  PythonLiteralParser p(text, 0);
  auto call = p.call();
  if (!call) return std::nullopt;
  p.skip_ws();
  if (p.pos() != text.size()) return std::nullopt;
  return call;
}

}  // namespace hearth::chat::output

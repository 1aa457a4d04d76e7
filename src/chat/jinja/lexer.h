// Splits template source into tokens: literal text, tag delimiters and the
// expression tokens inside tags, applying Jinja2's whitespace control.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::jinja {

enum class TokenType {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  Eof,
};

struct Token {
  TokenType type;
  std::string text;  // data, name, operator, or the decoded string literal
  int line = 1;
  int64_t int_value = 0;
  double float_value = 0;
};

std::vector<Token> tokenize(std::string_view source, const std::string& template_name);

}  // namespace hearth::chat::jinja

// JSON Schema "pattern" (an ECMAScript regular expression, unanchored) as a
// GBNF expression over the content of a JSON string: what the regex matches
// in the decoded string, the expression matches in its escaped spelling.
#pragma once

#include <string>
#include <string_view>

namespace hearth::grammar {

// Supported: literals, '.', classes with ranges and negation, \d \w \s \D \W
// \S, escapes (\t \n \r \f \v \0 \xHH \uHHHH and escaped syntax characters),
// groups ( ) and (?: ), alternation, quantifiers * + ? {m} {m,} {m,n} (lazy
// forms too), '^' at the start and '$' at the end. Anything else (back
// references, lookaround, \b, \p{...}, anchors elsewhere) throws
// std::invalid_argument naming it. `json_char` names the rule for any one
// character of string content.
std::string regex_to_gbnf(std::string_view pattern, std::string_view json_char);

}  // namespace hearth::grammar

// The JSON Schema converter on its own: errors that name the keyword, integer
// ranges and dates checked against arithmetic done here, the output policy,
// and masks under schema grammars against a token-by-token check.
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar_test_util.h"

namespace hearth::grammar {
namespace {

using nlohmann::json;

std::shared_ptr<const Vocabulary> byte_vocabulary() {
  static const auto vocab = std::make_shared<const Vocabulary>(test::synthetic_vocabulary(0, 1), std::vector<int32_t>{});
  return vocab;
}

class SchemaMatcher {
 public:
  explicit SchemaMatcher(const json& schema, bool strict = true)
      : grammar_(std::make_shared<const Grammar>(grammar_from_json_schema(schema, strict))) {}
  bool operator()(std::string_view text) const {
    Matcher matcher(grammar_, byte_vocabulary());
    return matcher.accept_bytes(text) && matcher.is_accepting();
  }

 private:
  std::shared_ptr<const Grammar> grammar_;
};

std::string conversion_error(const json& schema) {
  try {
    (void)json_schema_to_gbnf(schema);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"J({"type": "string", "pattern": "^(?=a)"})J", "lookaround"},
      {R"J({"type": "string", "pattern": "(a)\\1"})J", "escape '\\1'"},
      {R"({"type": "string", "pattern": "^a|b$"})", "top-level '|'"},
      {R"({"type": "object", "properties": {"id": {"type": "array", "uniqueItems": true}}})", "'uniqueItems'"},
      {R"({"type": "object", "patternProperties": {"^x": {}}})", "'patternProperties'"},
      {R"({"not": {"type": "null"}})", "'not'"},
      {R"({"if": {}, "then": {}})", "'if'"},
      {R"({"type": "string", "format": "email"})", "format 'email'"},
      {R"({"type": "number", "minimum": 1e16})", "beyond 1e15"},
      {R"({"type": "array", "contains": {"type": "integer"}, "minItems": 2})", "'minItems' beside 'contains'"},
      {R"({"$schema": "http://example.com/my-meta", "type": "string"})", "'$schema'"},
      {R"({"type": "object", "dependencies": {"a": ["b"]}})", "'dependencies'"},
      {R"({"$ref": "http://example.com/s.json"})", "$ref 'http://example.com/s.json'"},
      {R"({"$ref": "#/$defs/missing"})", "points at nothing"},
      {R"({"type": "strin"})", "unknown type \"strin\""},
      {R"({"allOf": [{"maxLength": 2}, {"maxLength": 3}]})", "'maxLength' in two combined schemas"},
      {R"({"type": "object", "properties": {"a": {}}, "anyOf": [{"additionalProperties": false}]})", "'additionalProperties'"},
      {R"({"type": "object", "minProperties": 1})", "'minProperties'"},
  };
  for (const auto& [schema, expected] : cases) {
    const std::string message = conversion_error(json::parse(schema));
    EXPECT_NE(message.find(expected), std::string::npos) << schema << " -> '" << message << "'";
  }
  // The error says where in the schema.
  EXPECT_NE(conversion_error(json::parse(R"({"properties": {"id": {"uniqueItems": true}}})")).find("#/properties/id"),
            std::string::npos);
}

// Every integer in a window, written canonically, is accepted iff in bounds.
TEST(JsonSchema, IntegerBoundsAreExact) {
  struct Bounds {
    std::optional<int64_t> low, high;
    std::string schema;
  };
  const std::vector<Bounds> cases = {
      {1, 10, R"({"type": "integer", "minimum": 1, "maximum": 10})"},
      {-50, -3, R"({"type": "integer", "minimum": -50, "maximum": -3})"},
      {100, 1000, R"({"type": "integer", "exclusiveMinimum": 99, "exclusiveMaximum": 1000.5})"},
      {0, std::nullopt, R"({"type": "integer", "minimum": 0})"},
      {std::nullopt, 7, R"({"type": "integer", "maximum": 7.9})"},
      {-999, 1234, R"({"type": "integer", "minimum": -999, "maximum": 1234})"},
      {37, 37, R"({"type": "integer", "minimum": 37, "maximum": 37})"},
      {-1, 0, R"({"type": "integer", "exclusiveMinimum": -1.5, "exclusiveMaximum": 0.25})"},
      {19, 291, R"({"type": "integer", "minimum": 19, "maximum": 291})"},
      {std::nullopt, -120, R"({"type": "integer", "maximum": -120})"},
  };
  for (const Bounds& b : cases) {
    const SchemaMatcher matches(json::parse(b.schema));
    for (int64_t v = -3000; v <= 3000; ++v) {
      const bool inside = (!b.low || v >= *b.low) && (!b.high || v <= *b.high);
      ASSERT_EQ(matches(std::to_string(v)), inside) << b.schema << " value " << v;
    }
    for (int64_t v : {int64_t(123456789), int64_t(-123456789)}) {
      const bool inside = (!b.low || v >= *b.low) && (!b.high || v <= *b.high);
      EXPECT_EQ(matches(std::to_string(v)), inside) << b.schema << " value " << v;
    }
    EXPECT_FALSE(matches("-0")) << b.schema;
    EXPECT_FALSE(matches("007")) << b.schema;
    EXPECT_FALSE(matches("1.0")) << b.schema;
  }
}

// Decimal strings in a grid, in several spellings, against bounds compared in
// integer thousandths here.
TEST(JsonSchema, NumberBoundsAreExact) {
  struct Bounds {
    std::optional<int64_t> low, high;  // thousandths
    bool low_exclusive, high_exclusive;
    std::string schema;
  };
  const std::vector<Bounds> cases = {
      {1100, std::nullopt, false, false, R"({"type": "number", "minimum": 1.1})"},
      {1100, std::nullopt, true, false, R"({"type": "number", "exclusiveMinimum": 1.1})"},
      {std::nullopt, 3000, false, false, R"({"type": "number", "maximum": 3.0})"},
      {std::nullopt, 3000, false, true, R"({"type": "number", "exclusiveMaximum": 3})"},
      {-2000, std::nullopt, false, false, R"({"type": "number", "minimum": -2})"},
      {-500, std::nullopt, true, false, R"({"type": "number", "exclusiveMinimum": -0.5})"},
      {0, 500, false, false, R"({"type": "number", "minimum": 0, "maximum": 0.5})"},
      {-2500, -2100, true, false, R"({"type": "number", "exclusiveMinimum": -2.5, "maximum": -2.1})"},
      {-1250, 2750, false, true, R"({"type": "number", "minimum": -1.25, "exclusiveMaximum": 2.75})"},
      {0, 0, false, false, R"({"type": "number", "minimum": 0, "maximum": 0})"},
      {std::nullopt, 0, false, true, R"({"type": "number", "exclusiveMaximum": 0})"},
      {120, 130, false, false, R"({"type": "number", "minimum": 0.12, "maximum": 0.13})"},
  };
  for (const Bounds& b : cases) {
    const SchemaMatcher matches(json::parse(b.schema));
    for (int64_t v = -4000; v <= 4000; v += 5) {
      const bool inside = (!b.low || (b.low_exclusive ? v > *b.low : v >= *b.low)) &&
                          (!b.high || (b.high_exclusive ? v < *b.high : v <= *b.high));
      const int64_t magnitude = v < 0 ? -v : v;
      const std::string sign = v < 0 ? "-" : "";
      const std::string whole = fmt::format("{}{}", sign, magnitude / 1000);
      std::vector<std::string> spellings = {fmt::format("{}.{:03}", whole, magnitude % 1000),
                                            fmt::format("{}.{:03}00", whole, magnitude % 1000)};
      if (magnitude % 10 == 0) spellings.push_back(fmt::format("{}.{:02}", whole, magnitude % 1000 / 10));
      if (magnitude % 1000 == 0) spellings.push_back(whole);
      for (const std::string& text : spellings) {
        if (text == "-0" || text.rfind("-0.000", 0) == 0) continue;  // "-0" is not written
        ASSERT_EQ(matches(text), inside) << b.schema << " " << text;
      }
    }
    EXPECT_FALSE(matches("1e1")) << "bounded numbers have no exponent";
    EXPECT_FALSE(matches("-0")) << b.schema;
  }
}

// Patterns against std::regex (ECMAScript grammar) as the oracle: every
// ASCII string up to length 4 over a small alphabet, as a JSON string.
TEST(JsonSchema, PatternsAgreeWithStdRegex) {
  const std::vector<std::string> patterns = {
      "^a+$", "a+", "^[a-c]{2,3}$", "^(ab|b)*$", "[^a]", "^\\d+(\\.\\d*)?$", "^\\w\\s?\\W?$", "b$", "^.a",
      "^a?b{0,2}$", "\"", "^[\\\\\"]+$", "^(?:a|\\n)+$", "^[-.]*$", "^\\S\\D$", "^a*?b+?$", "^$", "^\\x61\\u0062$"};
  const std::string alphabet = "ab1. \"\\\n-";
  std::vector<std::string> strings = {""};
  for (size_t length = 1, begin = 0; length <= 4; ++length) {
    const size_t end = strings.size();
    for (size_t i = begin; i < end; ++i)
      for (char c : alphabet) strings.push_back(strings[i] + c);
    begin = end;
  }
  for (const std::string& pattern : patterns) {
    const SchemaMatcher matches(json{{"type", "string"}, {"pattern", pattern}});
    const std::regex oracle(pattern, std::regex::ECMAScript);
    size_t n_match = 0;
    for (const std::string& s : strings) {
      const bool expected = std::regex_search(s, oracle);
      n_match += expected;
      ASSERT_EQ(matches(json(s).dump()), expected) << "pattern " << pattern << " string " << json(s).dump();
    }
    EXPECT_GT(n_match, 0u) << pattern;
  }
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

TEST(JsonSchema, DatesAreExact) {
  const SchemaMatcher date(json::parse(R"({"type": "string", "format": "date"})"));
  const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int year : {0, 4, 100, 1900, 1996, 1999, 2000, 2023, 2024, 2100, 2400, 9999}) {
    for (int month = 0; month <= 13; ++month) {
      for (int day = 0; day <= 32; ++day) {
        const bool valid = month >= 1 && month <= 12 && day >= 1 &&
                           day <= days_in_month[std::max(0, month - 1) % 12] + (month == 2 && is_leap(year));
        const std::string text = fmt::format("\"{:04}-{:02}-{:02}\"", year, month, day);
        ASSERT_EQ(date(text), valid) << text;
      }
    }
  }
  const SchemaMatcher date_time(json::parse(R"({"type": "string", "format": "date-time"})"));
  EXPECT_TRUE(date_time("\"1963-06-19T08:30:06.283185Z\""));
  EXPECT_TRUE(date_time("\"1990-12-31t15:59:50.123-08:00\""));
  EXPECT_FALSE(date_time("\"1990-12-31T15:59:50-24:00\""));
  EXPECT_FALSE(date_time("\"1990-12-31T24:00:00Z\""));
  EXPECT_FALSE(date_time("\"1990-12-31T15:59:50\""));  // an offset is required
  // Leap seconds only where the time is 23:59:60 UTC.
  for (const char* ok : {"\"1998-12-31T23:59:60Z\"", "\"1998-12-31T15:59:60.123-08:00\"", "\"1998-12-31T01:29:60+01:30\""})
    EXPECT_TRUE(date_time(ok)) << ok;
  for (const char* bad : {"\"1998-12-31T23:58:60Z\"", "\"1998-12-31T22:59:60Z\"", "\"1998-12-31T23:59:60+01:00\"",
                          "\"1998-12-31T23:59:61Z\""})
    EXPECT_FALSE(date_time(bad)) << bad;
  const SchemaMatcher uuid(json::parse(R"({"type": "string", "format": "uuid"})"));
  EXPECT_TRUE(uuid("\"123e4567-e89b-12d3-a456-426614174000\""));
  EXPECT_FALSE(uuid("\"123e4567-e89b-12d3-a456-42661417400\""));
  EXPECT_FALSE(uuid("\"123e4567e89b12d3a456426614174000\""));
}

TEST(JsonSchema, OutputPolicy) {
  const SchemaMatcher object(json::parse(R"({"type": "object", "properties": {
      "b": {"type": "integer"}, "a": {"type": "string", "maxLength": 3}}, "required": ["a"]})"));
  EXPECT_TRUE(object(R"({"a":"xyz","b":1})"));
  EXPECT_TRUE(object(R"({"a": "xyz", "b": 1})"));
  EXPECT_TRUE(object(R"({"a":"日本語"})"));           // three characters
  EXPECT_FALSE(object(R"({"a":"abcd"})"));            // maxLength
  EXPECT_FALSE(object(R"({"b":1,"a":"x"})"));         // declared order (sorted)
  EXPECT_FALSE(object(R"({ "a":"x"})"));              // no space after '{'
  EXPECT_FALSE(object(R"({"a":  "x"})"));             // one space at most
  EXPECT_FALSE(object(R"({"a":"x"} )"));
  EXPECT_FALSE(object(R"({"a":"x","c":1})"));         // strict: no additional members
  EXPECT_FALSE(object(R"({"b":1})"));                 // required
  EXPECT_TRUE(object(R"({"a":"\n\""})"));             // escapes count as one character
  EXPECT_FALSE(object(R"({"a":"\/"})"));              // no \/ spelling
  EXPECT_FALSE(object("{\"a\":\"\x01\"}"));           // raw control characters

  // Non-strict: additional members anywhere, but never under a declared name.
  const SchemaMatcher open(json::parse(R"({"type": "object", "properties": {
      "a": {"type": "integer"}, "ab": {"type": "integer"}}})"), /*strict=*/false);
  EXPECT_TRUE(open(R"({"a":1,"ab":2})"));
  EXPECT_TRUE(open(R"({"aa":"x","a":1,"abc":[],"ab":2,"z":null})"));
  EXPECT_TRUE(open(R"({"":1,"b":{}})"));
  EXPECT_FALSE(open(R"({"a":"x"})"));   // a declared name keeps its schema
  EXPECT_FALSE(open(R"({"ab":"x"})"));
  EXPECT_FALSE(open(R"({"ab":1,"a":1})"));  // and its place

  const SchemaMatcher array(json::parse(R"({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2})"));
  EXPECT_FALSE(array("[]"));
  EXPECT_TRUE(array("[true]"));
  EXPECT_TRUE(array("[true, false]"));
  EXPECT_FALSE(array("[true,false,true]"));

  const SchemaMatcher number(json::parse(R"({"type": "number"})"));
  for (const char* ok : {"0", "-0.5", "1e5", "1.25E-07", "1234567890123456"}) EXPECT_TRUE(number(ok)) << ok;
  for (const char* bad : {"01", ".5", "1.", "+1", "1e123", "12345678901234567", "NaN"}) EXPECT_FALSE(number(bad)) << bad;

  const SchemaMatcher enums(json::parse(R"({"enum": [1.0, "é\"", {"y": 1, "x": [true]}, null]})"));
  EXPECT_TRUE(enums("1"));
  EXPECT_TRUE(enums("\"é\\\"\""));
  EXPECT_TRUE(enums("{\"x\":[true],\"y\":1}"));
  EXPECT_TRUE(enums("null"));
  EXPECT_FALSE(enums("1.0"));
  EXPECT_FALSE(enums("\"é\""));

  Matcher any_object(std::make_shared<const Grammar>(grammar_for_json_object()), byte_vocabulary());
  EXPECT_TRUE(any_object.accept_bytes(R"({"k": [1, {"z": null}], "s": "t"})") && any_object.is_accepting());
  Matcher not_object(std::make_shared<const Grammar>(grammar_for_json_object()), byte_vocabulary());
  EXPECT_FALSE(not_object.accept_bytes("[1]"));
}

TEST(JsonSchema, WrappedInACustomRule) {
  const json schema = json::parse(R"({"type": "object", "properties": {"name": {"const": "save_conversation_metadata"},
      "arguments": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}},
      "required": ["name", "arguments"]})");
  const std::string gbnf = "root ::= \"<tool_call>\" call-json \"</tool_call>\"\n" +
                           json_schema_to_gbnf(schema, true, "call-json");
  Matcher matcher(std::make_shared<const Grammar>(Grammar::parse(gbnf)), byte_vocabulary());
  EXPECT_TRUE(matcher.accept_bytes(R"(<tool_call>{"arguments":{"title":"Hi"},"name":"save_conversation_metadata"}</tool_call>)"));
  EXPECT_TRUE(matcher.is_accepting());
  EXPECT_THROW((void)json_schema_to_gbnf(schema, true, "json-value"), Error);
}

TEST(JsonSchema, RecursiveRefsAndCombinators) {
  const SchemaMatcher tree(json::parse(R"({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
      "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
      "required": ["v"]}}})"));
  EXPECT_TRUE(tree(R"({"kids":[{"kids":[{"v":3}],"v":2}],"v":1})"));
  EXPECT_FALSE(tree(R"({"kids":[{"kids":[{}],"v":2}],"v":1})"));
  const SchemaMatcher root_ref(json::parse(R"({"type": "object", "properties": {"next": {"$ref": "#"}}})"));
  EXPECT_TRUE(root_ref(R"({"next":{"next":{}}})"));
  EXPECT_FALSE(root_ref(R"({"next":{"next":1}})"));
  const SchemaMatcher pointer(json::parse(R"({"$defs": {"a/b": {"type": "null"}, "c~d": {"type": "boolean"}},
      "anyOf": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/c~0d"}]})"));
  EXPECT_TRUE(pointer("null"));
  EXPECT_TRUE(pointer("true"));
  EXPECT_FALSE(pointer("1"));
  const SchemaMatcher contains(json::parse(R"({"type": "array", "contains": {"type": "integer", "minimum": 5}})"));
  EXPECT_TRUE(contains("[5]"));
  EXPECT_TRUE(contains("[\"a\",1,7,null]"));
  EXPECT_FALSE(contains("[]"));
  EXPECT_FALSE(contains("[1,2,\"x\"]"));
  const SchemaMatcher nullable(json::parse(R"({"type": "integer", "nullable": true})"));
  EXPECT_TRUE(nullable("null"));
  EXPECT_TRUE(nullable("5"));
  EXPECT_FALSE(nullable("\"5\""));
}

// The fast path for plain-text tokens must agree with token-by-token checks
// in length-limited strings, keys and values.
TEST(JsonSchema, MaskAgreesWithTokenByTokenCheck) {
  const auto vocab = std::make_shared<const Vocabulary>(test::synthetic_vocabulary(3000, 5), std::vector<int32_t>{256});
  auto grammar = std::make_shared<const Grammar>(grammar_from_json_schema(json::parse(R"({"type": "object",
      "properties": {"t": {"type": "string", "maxLength": 4}, "u": {"type": "string", "minLength": 2},
                     "p": {"type": "string", "pattern": "^x.*$"}, "q": {"type": "string", "pattern": "^[a-z]+$"}},
      "additionalProperties": {"type": "string", "maxLength": 2}})")));
  for (const char* prefix : {"{\"t\":\"", "{\"t\":\"ab", "{\"t\":\"abc", "{\"t\":\"abcd", "{\"t\":\"a\xC3",
                             "{\"u\":\"", "{\"u\":\"x", "{\"", "{\"t", "{\"v\":\"", "{\"v\":\"日",
                             "{\"p\":\"x", "{\"p\":\"xa\xE2\x80", "{\"p\":\"x\xE2\x80\xA6", "{\"q\":\"ab"}) {
    Matcher matcher(grammar, vocab);
    ASSERT_TRUE(matcher.accept_bytes(prefix)) << prefix;
    std::vector<uint8_t> mask;
    matcher.fill_mask(mask);
    size_t n_allowed = 0;
    for (size_t id = 0; id < vocab->size(); ++id) {
      Matcher probe = matcher;
      const bool ok = probe.accept_token(int32_t(id));
      n_allowed += ok;
      ASSERT_EQ(mask[id] != 0, ok) << "prefix '" << prefix << "' token '" << vocab->token_bytes(int32_t(id)) << "'";
    }
    EXPECT_GT(n_allowed, 0u) << prefix;
  }
}

}  // namespace
}  // namespace hearth::grammar

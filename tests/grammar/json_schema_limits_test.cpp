// Schema-to-grammar compilation is bounded: nesting, the number of
// subschemas, repetition counts and group depth are refused with a message
// past their limits, quickly and without the memory a small request used to
// cost (373 MB at depth 1,000, 24 GB at array depth 30,000; issue 20).
#include <gtest/gtest.h>

#include <chrono>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace hearth::grammar {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json nested_objects(int depth) {
  json schema = {{"type", "string"}};
  for (int i = 0; i < depth; ++i) schema = {{"type", "object"}, {"properties", {{"a", schema}}}, {"required", {"a"}}};
  return schema;
}

json nested_arrays(int depth) {
  json schema = {{"type", "integer"}};
  for (int i = 0; i < depth; ++i) schema = {{"type", "array"}, {"items", schema}};
  return schema;
}

std::string error_of(const json& schema) {
  try {
    grammar_from_json_schema(schema);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(JsonSchemaLimits, ModerateNestingCompiles) {
  EXPECT_NO_THROW(grammar_from_json_schema(nested_objects(20)));
  EXPECT_NO_THROW(grammar_from_json_schema(nested_arrays(20)));
}

TEST(JsonSchemaLimits, DeepNestingIsRefusedQuickly) {
  const auto start = Clock::now();
  // Built iteratively, but nlohmann's copy recurses: stay below its stack use.
  for (const json& schema : {nested_objects(100), nested_arrays(100)}) {
    const std::string error = error_of(schema);
    EXPECT_NE(error.find("nests deeper than 64"), std::string::npos) << error;
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(JsonSchemaLimits, HugeRepetitionTotalsAreRefused) {
  // Each maxLength alone is allowed; together they would expand to 10^8 items.
  json properties = json::object();
  for (int i = 0; i < 1000; ++i) properties["p" + std::to_string(i)] = {{"type", "string"}, {"maxLength", 100000}};
  const auto start = Clock::now();
  const std::string error = error_of({{"type", "object"}, {"properties", properties}});
  EXPECT_NE(error.find("copies in all"), std::string::npos) << error;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST(JsonSchemaLimits, DeeplyGroupedPatternsAreRefused) {
  const std::string pattern = std::string(5000, '(') + "a" + std::string(5000, ')');
  const std::string error = error_of({{"type", "string"}, {"pattern", pattern}});
  EXPECT_FALSE(error.empty());
  EXPECT_NE(error.find("nested deeper"), std::string::npos) << error;
}

TEST(JsonSchemaLimits, DeepGbnfGroupsAreRefused) {
  const std::string text = "root ::= " + std::string(10000, '(') + "\"a\"" + std::string(10000, ')') + "\n";
  try {
    Grammar::parse(text);
    FAIL() << "parsed";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("nest deeper"), std::string::npos) << e.what();
  }
}

TEST(JsonSchemaLimits, ManySubschemasAreRefused) {
  json any = json::array();
  for (int i = 0; i < 30000; ++i) any.push_back({{"const", i}});
  const std::string error = error_of({{"anyOf", any}});
  EXPECT_NE(error.find("more than 20000 subschemas"), std::string::npos) << error;
}

}  // namespace
}  // namespace hearth::grammar

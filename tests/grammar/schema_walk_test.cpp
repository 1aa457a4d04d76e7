// Acceptance: for each schema, random generations over real and synthetic
// vocabularies (several seeds) are valid JSON that the schema accepts, as
// judged by ajv (node), which shares no code with the grammar engine.
#include <gtest/gtest.h>

#include <memory>

#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace hearth::grammar {
namespace {

using nlohmann::json;

struct SchemaCase {
  std::string name;
  json schema;
  bool strict = true;
  bool json_object_mode = false;
};

std::vector<SchemaCase> schema_cases() {
  std::vector<SchemaCase> cases = {
      {"flowdown_save_conversation_metadata", json::parse(R"({
        "type": "object",
        "properties": {
          "title": {"type": "string", "description": "A short title for the conversation", "maxLength": 32},
          "icon": {"type": "string", "description": "One emoji for the conversation", "minLength": 1, "maxLength": 2}
        },
        "required": ["title", "icon"],
        "additionalProperties": false
      })")},
      {"string", json::parse(R"({"type": "string"})")},
      {"integer_range", json::parse(R"({"type": "integer", "minimum": 1, "maximum": 10})")},
      {"negative_range", json::parse(R"({"type": "integer", "minimum": -50, "maximum": -3})")},
      {"exclusive_bounds", json::parse(R"({"type": "integer", "exclusiveMinimum": 99, "exclusiveMaximum": 1000.5})")},
      {"number", json::parse(R"({"type": "number"})")},
      {"boolean", json::parse(R"({"type": "boolean"})")},
      {"enum_strings", json::parse(R"({"enum": ["red", "green", "blue", "日本", "a\"b", "tab\there"]})")},
      {"const_object", json::parse(R"({"const": {"b": [1, 2.5, null], "a": "x"}})")},
      {"int_array_2_4", json::parse(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4})")},
      {"nested_object", json::parse(R"({
        "type": "object",
        "properties": {
          "name": {"type": "string", "maxLength": 20},
          "age": {"type": "integer", "minimum": 0, "maximum": 150},
          "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                      "required": ["city"]},
          "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3}
        },
        "required": ["name", "age", "address"]
      })")},
      {"any_of", json::parse(R"({"anyOf": [{"type": "string", "maxLength": 5}, {"type": "integer"}, {"type": "null"}]})")},
      {"one_of_tagged", json::parse(R"({"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}, "required": ["kind", "r"]},
        {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "integer"}}, "required": ["kind", "side"]}
      ]})")},
      {"nullable_type_list", json::parse(R"({"type": ["string", "null"], "maxLength": 10})")},
      {"recursive_tree", json::parse(R"({
        "$ref": "#/$defs/node",
        "$defs": {"node": {"type": "object", "properties": {
          "value": {"type": "integer"},
          "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
          "required": ["value"]}}
      })")},
      {"formats", json::parse(R"({"type": "object", "properties": {
          "day": {"type": "string", "format": "date"},
          "at": {"type": "string", "format": "date-time"},
          "clock": {"type": "string", "format": "time"},
          "id": {"type": "string", "format": "uuid"}},
        "required": ["day", "at", "clock", "id"]})")},
      {"length_3_5", json::parse(R"({"type": "string", "minLength": 3, "maxLength": 5})")},
      {"additional_schema", json::parse(R"({"type": "object", "properties": {"id": {"type": "string"}},
        "required": ["id"], "additionalProperties": {"type": "integer"}})")},
      {"tool_call", json::parse(R"({"type": "object", "properties": {
          "name": {"const": "get_weather"},
          "arguments": {"type": "object", "properties": {
            "location": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["location"]}},
        "required": ["name", "arguments"]})")},
      {"all_optional", json::parse(R"({"type": "object", "properties": {
          "a": {"type": "boolean"}, "b": {"type": "null"}, "c": {"type": "integer", "maximum": 0}}})")},
      {"array_of_objects", json::parse(R"({"type": "array", "minItems": 1, "maxItems": 3, "items": {
          "type": "object", "properties": {"sku": {"type": "string", "maxLength": 6}, "qty": {"type": "integer", "minimum": 1}},
          "required": ["sku", "qty"]}})")},
      {"empty_schema", json::object()},
      {"typeless_with_keywords", json::parse(R"({"properties": {"x": {"type": "integer"}}, "required": ["x"], "maxLength": 3})")},
      {"non_strict_open_object", json::parse(R"({"type": "object", "properties": {"ab": {"type": "integer"}, "a": {"type": "string"}},
        "required": ["a"]})"), false},
      {"definitions_draft7_style", json::parse(R"({"definitions": {"pos": {"type": "integer", "minimum": 0}},
        "type": "array", "items": {"$ref": "#/definitions/pos"}, "maxItems": 4})")},
      {"patterns", json::parse(R"({"type": "object", "properties": {
          "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3,5}$"},
          "note": {"type": "string", "pattern": "(ok|fine)\\.?"}}, "required": ["code", "note"]})")},
      {"number_bounds", json::parse(R"({"type": "array", "maxItems": 4, "items":
          {"type": "number", "exclusiveMinimum": -2.5, "maximum": 0.75}})")},
      {"tuple_prefix_items", json::parse(R"({"type": "array", "prefixItems": [{"type": "string", "maxLength": 3},
          {"type": "boolean"}], "items": {"type": "null"}, "maxItems": 4})")},
      {"allof_merge", json::parse(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
          {"properties": {"b": {"const": 1}}, "required": ["b"]}]})")},
      {"allof_single", json::parse(R"({"allOf": [{"type": "string", "enum": ["x", "y"]}], "description": "wrapped"})")},
  };
  cases.push_back({"json_object_mode", json::parse(R"({"type": "object"})"), true, true});
  return cases;
}

TEST(JsonSchemaWalk, GenerationsValidateWithAjv) {
  std::vector<int32_t> stories_eog;
  const std::vector<std::string> stories = test::stories_vocabulary(stories_eog);
  ASSERT_FALSE(stories.empty()) << "fixture models/stories260K.gguf not found";
  const std::vector<std::shared_ptr<const Vocabulary>> vocabularies = {
      std::make_shared<const Vocabulary>(stories, stories_eog),
      std::make_shared<const Vocabulary>(test::synthetic_vocabulary(4000, 11), std::vector<int32_t>{256}),
  };
  const std::vector<SchemaCase> cases = schema_cases();
  ASSERT_GE(cases.size(), 20u);
  json batch = json::array();
  size_t generated = 0;
  for (const SchemaCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto grammar = std::make_shared<const Grammar>(c.json_object_mode ? grammar_for_json_object()
                                                                       : grammar_from_json_schema(c.schema, c.strict));
    json instances = json::array();
    for (size_t v = 0; v < vocabularies.size(); ++v) {
      for (uint32_t seed = 1; seed <= 6; ++seed) {
        Matcher matcher(grammar, vocabularies[v]);
        const test::WalkResult walk = test::random_walk(matcher, seed * 7919 + uint32_t(v), (seed * 13) % 70);
        ASSERT_TRUE(walk.finished) << "walk did not end after " << walk.steps << " tokens: " << walk.text;
        instances.push_back(walk.text);
        ++generated;
      }
    }
    // Validate exactly as written: in strict mode a missing
    // additionalProperties means false, so say so to the validator.
    json schema = c.schema;
    batch.push_back({{"name", c.name}, {"schema", schema}, {"instances", instances}, {"strict", c.strict}});
  }
  // The strict default (additionalProperties: false) is hearth's reading;
  // ajv must see it spelled out to judge by the same rule.
  for (json& entry : batch) {
    if (!entry["strict"].get<bool>()) continue;
    std::function<void(json&)> close = [&](json& s) {
      if (!s.is_object()) return;
      // hearth merges allOf branches, then closes the merged object; in
      // 2020-12 that reads "unevaluatedProperties": false on the allOf.
      if (s.contains("allOf")) {
        if (!s["allOf"].empty() && s["allOf"][0].value("type", "") == "object") s["unevaluatedProperties"] = false;
        return;
      }
      const bool objectish = s.contains("properties") || (s.contains("type") && s["type"] == "object");
      if (objectish && !s.contains("additionalProperties") && entry["name"] != "json_object_mode" &&
          entry["name"] != "typeless_with_keywords")
        s["additionalProperties"] = false;
      for (auto& [key, value] : s.items()) {
        if (key == "properties" || key == "$defs" || key == "definitions") {
          for (auto& [_, sub] : value.items()) close(sub);
        } else if (key == "items" || key == "additionalProperties") {
          close(value);
        } else if (key == "anyOf" || key == "oneOf" || key == "allOf") {
          for (json& sub : value) close(sub);
        }
      }
    };
    close(entry["schema"]);
  }
  // A control the validator must reject, so a validator that accepts
  // everything can not pass this test.
  batch.push_back({{"name", "control"}, {"schema", json::parse(R"({"type": "object", "properties":
      {"n": {"type": "integer", "maximum": 3}}, "required": ["n"], "additionalProperties": false})")},
                   {"instances", json::array({"{\"n\": 4}", "{\"n\": 1, \"m\": 2}", "{}", "[1]", "{\"n\": 2}"})}});
  std::string failure;
  const json verdicts = test::ajv_validate(batch, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(verdicts.size(), batch.size());
  const json control = verdicts.back();
  for (size_t k = 0; k < 4; ++k) EXPECT_FALSE(control[k].empty()) << "ajv accepted invalid control instance " << k;
  EXPECT_TRUE(control[4].empty()) << "ajv rejected a valid control instance";
  batch.erase(batch.size() - 1);
  size_t valid = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    for (size_t k = 0; k < batch[i]["instances"].size(); ++k) {
      const json& errors = verdicts[i][k];
      EXPECT_TRUE(errors.empty()) << batch[i]["name"] << ": " << batch[i]["instances"][k].get<std::string>()
                                  << " -> " << errors.dump();
      valid += errors.empty();
      if (k % 6 == 0) std::printf("  %s: %s\n", batch[i]["name"].get<std::string>().c_str(),
                                  batch[i]["instances"][k].get<std::string>().substr(0, 160).c_str());
    }
  }
  EXPECT_EQ(valid, generated);
  std::printf("[ schemas ] %zu schemas, %zu generations, %zu valid per ajv\n", batch.size(), generated, valid);
}

}  // namespace
}  // namespace hearth::grammar

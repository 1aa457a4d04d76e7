// The JSON Schemas the structured-output tests generate for (at least 20,
// a FlowDown-style strict tool schema among them), shared by the grammar
// random-walk test and the model-generation test in tests/cli.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::test {

using nlohmann::json;

struct SchemaCase {
  std::string name;
  json schema;
  bool strict = true;
  bool json_object_mode = false;
};

inline std::vector<SchemaCase> schema_cases() {
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

// The schema as ajv must read it to judge by hearth's rule: in strict mode a
// missing additionalProperties means false, so it is spelled out.
inline json schema_for_validator(const SchemaCase& c) {
  json entry = {{"name", c.name}, {"schema", c.schema}, {"strict", c.strict}};
  json batch = json::array({entry});
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
  return batch[0]["schema"];
}

}  // namespace hearth::test

// Internal to the output parsers: each family's parser for the part of the
// output after any reasoning, and the scanning helpers they share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/output/output_parser.h"

namespace hearth::chat::output {

struct BodyResult {
  std::string content;
  std::vector<ToolCall> calls;
  std::string reasoning;  // only harmony puts reasoning here
};

// In partial mode each parser returns content only up to the first point
// that may still change, and only calls that are complete.
BodyResult parse_hermes(std::string_view body, bool partial);
BodyResult parse_llama3(std::string_view body, bool partial);
BodyResult parse_mistral(std::string_view body, bool partial);
BodyResult parse_gemma_python(std::string_view body, bool partial);
BodyResult parse_deepseek(std::string_view body, bool partial);
BodyResult parse_harmony(std::string_view body, bool partial);
BodyResult parse_kimi(std::string_view body, bool partial);

// Position from which the end of `text` is a proper prefix of `marker`
// (a marker that may be arriving), or npos.
size_t partial_marker_start(std::string_view text, std::string_view marker);
// End (one past) of the JSON object or array starting at `start`, or
// nullopt when it is not closed within `text`.
std::optional<size_t> json_value_end(std::string_view text, size_t start);
// Parses one JSON object; nullopt when not valid JSON or not an object.
std::optional<nlohmann::ordered_json> parse_json_object(std::string_view text);
// A call from {"name": ..., "arguments"|"parameters": ...}; nullopt when the
// object is not shaped like a call.
std::optional<ToolCall> call_from_json(const nlohmann::ordered_json& object);
// Arguments as compact JSON text; a string holding JSON is used as it is.
std::optional<std::string> arguments_text(const nlohmann::ordered_json& arguments);
// Python-style call list "[f(a=1, b='x'), g()]" starting at `start`
// (at the '['); returns the calls and the end position, or nullopt.
std::optional<std::pair<std::vector<ToolCall>, size_t>> parse_python_call_list(std::string_view text, size_t start);
// One call "name(a=1, ...)" or "mod.name.call(a=1)"; the whole text must be the call.
std::optional<ToolCall> parse_python_call(std::string_view text);

std::string trim(std::string_view s);
std::string rtrim(std::string_view s);
std::string ltrim(std::string_view s);

}  // namespace hearth::chat::output

// JSON Schema -> GBNF. The supported keywords, the whitespace policy and the
// order of object members are documented in docs/grammar.md.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace hearth::grammar {

// The grammar text for a schema, its start rule named `root_name`. strict:
// objects take no members beyond "properties" unless "additionalProperties"
// says otherwise. Throws hearth::Error naming the first keyword it cannot
// enforce exactly. To wrap the JSON (e.g. a chat template's tool-call tags),
// name the start rule "call-json" and add a rule of your own:
//   root ::= "<tool_call>" call-json "</tool_call>"
std::string json_schema_to_gbnf(const nlohmann::json& schema, bool strict = true, std::string_view root_name = "root");

// The grammar text for any JSON object.
std::string json_object_gbnf();

}  // namespace hearth::grammar

// OpenAI-style chat messages, checked and normalized the way chat servers do
// before templating.
//
// Accepted forms: content as a string, null, or a list of parts (text,
// image_url, HF-style image); the developer role; consecutive turns of the
// same role; assistant tool_calls whose function.arguments is an object or a
// JSON string; tool messages with tool_call_id and name; and FlowDown's form,
// where system/assistant/tool content is an array of plain strings.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hearth::chat {

using OrderedJson = nlohmann::ordered_json;

struct NormalizeOptions {
  // tool_calls[].function.arguments given as a JSON string (OpenAI's wire
  // format) becomes the object it encodes, as templates iterate it. A string
  // that is not JSON is left as it is.
  bool parse_tool_arguments = true;
  // content: null on an assistant turn with tool calls becomes "".
  bool null_content_to_empty = true;
  // An array of plain strings (FlowDown) becomes one string, joined by "\n".
  bool join_string_arrays = true;
  // OpenAI image parts {"type":"image_url","image_url":{"url":U}} become the
  // transformers form {"type":"image","url":U} that templates test for.
  bool image_url_to_image = true;
  // Role "developer" (OpenAI o-series) becomes "system", for templates that
  // do not know it (turn off for harmony templates, which do).
  bool developer_as_system = true;
  // A parts list with only text parts becomes one string (for templates
  // that cannot take lists).
  bool flatten_text_parts = false;
};

// Throws hearth::Error naming the message index for malformed messages: not
// an object, no role, content of the wrong type, tool_calls that are not a
// list of function calls.
void validate_messages(const OrderedJson& messages);

// Validates, then returns the normalized copy.
OrderedJson normalize_messages(const OrderedJson& messages, const NormalizeOptions& options);

// Whether any message carries an image part (so a server can refuse it for a
// text-only template).
bool messages_have_images(const OrderedJson& messages);

}  // namespace hearth::chat

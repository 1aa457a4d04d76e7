#include "chat/messages.h"

#include "core/bounded_json.h"
#include "core/error.h"

namespace hearth::chat {

namespace {

bool is_image_part(const OrderedJson& part) {
  if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) return false;
  const std::string& type = part["type"].get_ref<const std::string&>();
  return type == "image_url" || type == "image" || type == "input_image";
}

}  // namespace

void validate_messages(const OrderedJson& messages) {
  if (!messages.is_array()) fail("messages must be a JSON array, got {}", messages.type_name());
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.is_object()) fail("message {} must be an object, got {}", i, m.type_name());
    if (!m.contains("role") || !m["role"].is_string()) fail("message {} has no \"role\" string", i);
    if (m.contains("content")) {
      const auto& c = m["content"];
      if (!c.is_string() && !c.is_null() && !c.is_array())
        fail("message {} ({}): content must be a string, null or a list of parts, got {}", i,
             m["role"].get<std::string>(), c.type_name());
      if (c.is_array())
        for (const auto& part : c)
          if (!part.is_string() && !(part.is_object() && part.contains("type")))
            fail("message {}: each content part must be a string or an object with a \"type\"", i);
    }
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      const auto& calls = m["tool_calls"];
      if (!calls.is_array()) fail("message {}: tool_calls must be a list", i);
      for (const auto& call : calls) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
            !call["function"].contains("name") || !call["function"]["name"].is_string())
          fail("message {}: each tool call needs a function with a name", i);
        if (call["function"].contains("arguments")) {
          const auto& args = call["function"]["arguments"];
          if (!args.is_string() && !args.is_object())
            fail("message {}: tool call arguments must be an object or a JSON string", i);
        }
      }
    }
  }
}

OrderedJson normalize_messages(const OrderedJson& messages, const NormalizeOptions& options) {
  validate_messages(messages);
  OrderedJson out = messages;
  for (auto& m : out) {
    if (options.developer_as_system && m["role"] == "developer") m["role"] = "system";
    if (m.contains("content") && m["content"].is_array()) {
      auto& content = m["content"];
      bool all_strings = !content.empty();
      for (const auto& part : content) all_strings = all_strings && part.is_string();
      if (all_strings && options.join_string_arrays) {
        std::string joined;
        for (size_t k = 0; k < content.size(); ++k) {
          if (k) joined += "\n";
          joined += content[k].get<std::string>();
        }
        content = joined;
      } else {
        bool all_text = !content.empty();
        for (auto& part : content) {
          if (part.is_string()) {
            part = OrderedJson{{"type", "text"}, {"text", part.get<std::string>()}};
          }
          if (options.image_url_to_image && part.value("type", "") == "image_url") {
            std::string url;
            if (part.contains("image_url") && part["image_url"].is_object())
              url = part["image_url"].value("url", "");
            else if (part.contains("image_url") && part["image_url"].is_string())
              url = part["image_url"].get<std::string>();
            part = OrderedJson{{"type", "image"}, {"url", url}};
          }
          all_text = all_text && part.value("type", "") == "text";
        }
        if (all_text && options.flatten_text_parts) {
          std::string joined;
          for (const auto& part : content) joined += part.value("text", "");
          content = joined;
        }
      }
    }
    bool has_calls = m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty();
    if (has_calls && options.null_content_to_empty && (!m.contains("content") || m["content"].is_null()))
      m["content"] = "";
    if (has_calls && options.parse_tool_arguments) {
      for (auto& call : m["tool_calls"]) {
        auto& fn = call["function"];
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          // Bounded: the template recurses through the parsed arguments.
          OrderedJson parsed = parse_bounded_json<OrderedJson>(fn["arguments"].get<std::string>()).value;
          if (!parsed.is_discarded() && parsed.is_object()) fn["arguments"] = std::move(parsed);
        }
      }
    }
  }
  return out;
}

bool messages_have_images(const OrderedJson& messages) {
  if (!messages.is_array()) return false;
  for (const auto& m : messages)
    if (m.is_object() && m.contains("content") && m["content"].is_array())
      for (const auto& part : m["content"])
        if (is_image_part(part)) return true;
  return false;
}

}  // namespace hearth::chat

#include "server/anthropic_api.h"

#include <map>

namespace hearth::server {
namespace {

std::string joined_text(const json& blocks, const std::string& field) {
  if (blocks.is_string()) return blocks.get<std::string>();
  if (!blocks.is_array()) bad_request(field, "'{}' must be a string or a list of text blocks", field);
  std::string text;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const json& b = blocks[i];
    if (!b.is_object() || b.value("type", "") != "text" || !b.contains("text") || !b["text"].is_string())
      bad_request(field, "{}[{}] must be {{\"type\": \"text\", \"text\": ...}}", field, i);
    if (!text.empty()) text += "\n";
    text += b["text"].get<std::string>();
  }
  return text;
}

// An image block's source as a URL the image path reads.
std::string image_url(const json& block, const std::string& field) {
  const json source = block.contains("source") ? block["source"] : json();
  const std::string type = source.is_object() ? source.value("type", "") : "";
  if (type == "base64" && source.contains("data") && source["data"].is_string())
    return fmt::format("data:{};base64,{}", source.value("media_type", "image/png"), source["data"].get<std::string>());
  if (type == "url" && source.contains("url") && source["url"].is_string()) return source["url"].get<std::string>();
  bad_request(field, "'{}' needs a source {{\"type\": \"base64\", \"media_type\", \"data\"}} or {{\"type\": \"url\", \"url\"}}",
              field);
}

// tool_result content: a string, or text (and image) blocks.
ordered_json tool_result_content(const json& block, const std::string& field) {
  if (!block.contains("content") || block["content"].is_null()) return "";
  const json& c = block["content"];
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) bad_request(field, "'{}.content' must be a string or a list of blocks", field);
  std::string text;
  for (const json& b : c) {
    if (b.is_object() && b.value("type", "") == "text" && b.contains("text") && b["text"].is_string()) {
      if (!text.empty()) text += "\n";
      text += b["text"].get<std::string>();
    } else if (b.is_object() && b.value("type", "") == "image") {
      bad_request(field, "images inside a tool_result are not supported: send them in a user text turn");
    }
  }
  return text;
}

void convert_user(const json& content, const std::string& field, const std::map<std::string, std::string>& tool_names,
                  ordered_json& messages) {
  if (content.is_string()) {
    messages.push_back({{"role", "user"}, {"content", content.get<std::string>()}});
    return;
  }
  ordered_json parts = ordered_json::array();
  bool has_image = false;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string where = fmt::format("{}[{}]", field, i);
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text") {
      if (!b.contains("text") || !b["text"].is_string()) bad_request(where, "'{}' needs a 'text' string", where);
      parts.push_back({{"type", "text"}, {"text", b["text"]}});
    } else if (type == "image") {
      parts.push_back({{"type", "image_url"}, {"image_url", {{"url", image_url(b, where)}}}});
      has_image = true;
    } else if (type == "tool_result") {
      if (!b.contains("tool_use_id") || !b["tool_use_id"].is_string())
        bad_request(where, "'{}' needs a 'tool_use_id' string", where);
      const std::string id = b["tool_use_id"].get<std::string>();
      ordered_json tool = {{"role", "tool"}, {"tool_call_id", id}, {"content", tool_result_content(b, where)}};
      if (const auto it = tool_names.find(id); it != tool_names.end()) tool["name"] = it->second;
      messages.push_back(std::move(tool));
    } else if (type == "document" || type == "search_result") {
      bad_request(where, "'{}' blocks are not supported: send the text as a text block", type);
    } else {
      bad_request(where, "'{}' must be a text, image or tool_result block, got type '{}'", where, type);
    }
  }
  if (parts.empty()) return;
  if (has_image) {
    messages.push_back({{"role", "user"}, {"content", parts}});
    return;
  }
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : "\n") + p["text"].get<std::string>();
  messages.push_back({{"role", "user"}, {"content", text}});
}

void convert_assistant(const json& content, const std::string& field, std::map<std::string, std::string>& tool_names,
                       ordered_json& messages) {
  ordered_json message = {{"role", "assistant"}, {"content", ""}};
  if (content.is_string()) {
    message["content"] = content.get<std::string>();
    messages.push_back(std::move(message));
    return;
  }
  std::string text, thinking;
  ordered_json calls = ordered_json::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string where = fmt::format("{}[{}]", field, i);
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text") {
      if (!b.contains("text") || !b["text"].is_string()) bad_request(where, "'{}' needs a 'text' string", where);
      text += b["text"].get<std::string>();
    } else if (type == "thinking") {
      if (b.contains("thinking") && b["thinking"].is_string()) thinking += b["thinking"].get<std::string>();
    } else if (type == "redacted_thinking") {
      // Opaque to any model but the one that wrote it.
    } else if (type == "tool_use") {
      if (!b.contains("id") || !b["id"].is_string() || !b.contains("name") || !b["name"].is_string())
        bad_request(where, "'{}' needs 'id' and 'name' strings", where);
      const json input = b.contains("input") && b["input"].is_object() ? b["input"] : json::object();
      tool_names[b["id"].get<std::string>()] = b["name"].get<std::string>();
      calls.push_back({{"id", b["id"]}, {"type", "function"}, {"function", {{"name", b["name"]}, {"arguments", input.dump()}}}});
    } else {
      bad_request(where, "'{}' must be a text, thinking or tool_use block, got type '{}'", where, type);
    }
  }
  message["content"] = text;
  if (!thinking.empty()) message["reasoning_content"] = thinking;
  if (!calls.empty()) message["tool_calls"] = calls;
  messages.push_back(std::move(message));
}

ordered_json convert_tools(const json& tools) {
  if (!tools.is_array()) bad_request("tools", "'tools' must be an array");
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
      bad_request(where, "'{}' needs a 'name' string", where);
    const std::string type = t.value("type", "custom");
    if (type != "custom" || !t.contains("input_schema"))
      bad_request(where, "'{}' ({}): only client tools with an 'input_schema' are supported, not Anthropic's built-in tool type '{}'",
                  where, t["name"].get<std::string>(), type);
    if (!t["input_schema"].is_object()) bad_request(where, "'{}.input_schema' must be a JSON Schema object", where);
    ordered_json fn = {{"name", t["name"]}, {"parameters", t["input_schema"]}};
    if (t.contains("description") && t["description"].is_string()) fn["description"] = t["description"];
    out.push_back({{"type", "function"}, {"function", fn}});
  }
  return out;
}

json convert_tool_choice(const json& choice) {
  if (!choice.is_object() || !choice.contains("type") || !choice["type"].is_string())
    bad_request("tool_choice", "'tool_choice' must be {{\"type\": \"auto\" | \"any\" | \"tool\" | \"none\"}}");
  const std::string type = choice["type"].get<std::string>();
  if (type == "auto") return "auto";
  if (type == "any") return "required";
  if (type == "none") return "none";
  if (type == "tool") {
    if (!choice.contains("name") || !choice["name"].is_string())
      bad_request("tool_choice", "tool_choice {{\"type\": \"tool\"}} needs a 'name'");
    return {{"type", "function"}, {"function", {{"name", choice["name"]}}}};
  }
  bad_request("tool_choice", "tool_choice type must be 'auto', 'any', 'tool' or 'none', got '{}'", type);
}

}  // namespace

ChatSetup anthropic_chat_setup(const json& body) {
  ChatSetup setup;
  if (body.contains("system") && !body["system"].is_null()) {
    const std::string system = joined_text(body["system"], "system");
    if (!system.empty()) setup.messages.push_back({{"role", "system"}, {"content", system}});
  }
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    bad_request("messages", "'messages' must be a non-empty array of {{\"role\", \"content\"}}");
  std::map<std::string, std::string> tool_names;  // tool_use id -> name, for the tool messages
  const json& messages = body["messages"];
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      bad_request(where, "'{}' must be an object with a 'role'", where);
    if (!m.contains("content") || (!m["content"].is_string() && !m["content"].is_array()))
      bad_request(where, "'{}.content' must be a string or a list of content blocks", where);
    const std::string role = m["role"].get<std::string>();
    if (role == "user") {
      convert_user(m["content"], where + ".content", tool_names, setup.messages);
    } else if (role == "assistant") {
      convert_assistant(m["content"], where + ".content", tool_names, setup.messages);
    } else {
      bad_request(where, "'{}.role' must be 'user' or 'assistant' (the system prompt goes in 'system'), got '{}'", where, role);
    }
  }
  const bool tools_off = body.contains("tool_choice") && body["tool_choice"].is_object() &&
                         body["tool_choice"].value("type", "") == "none";
  if (body.contains("tools") && !body["tools"].is_null()) {
    ordered_json tools = convert_tools(body["tools"]);
    if (!tools.empty() && !tools_off) setup.tools = std::move(tools);
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null())
    setup.tool_choice = convert_tool_choice(body["tool_choice"]);
  if (body.contains("thinking") && body["thinking"].is_object()) {
    const std::string type = body["thinking"].value("type", "");
    if (type == "enabled" || type == "adaptive") setup.template_variables.emplace_back("enable_thinking", true);
    else if (type == "disabled") setup.template_variables.emplace_back("enable_thinking", false);
    else bad_request("thinking", "'thinking.type' must be 'enabled' or 'disabled'");
  }
  return setup;
}

json anthropic_tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return input.is_object() ? input : json::object();
}

json anthropic_content(const chat::ParsedOutput& out) {
  json blocks = json::array();
  if (!out.reasoning.empty()) blocks.push_back({{"type", "thinking"}, {"thinking", out.reasoning}, {"signature", ""}});
  if (!out.content.empty() || (out.reasoning.empty() && out.tool_calls.empty()))
    blocks.push_back({{"type", "text"}, {"text", out.content}});
  for (const chat::ToolCall& call : out.tool_calls)
    blocks.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", anthropic_tool_input(call.arguments)}});
  return blocks;
}

const char* anthropic_stop_reason(FinishReason reason, bool tool_calls) {
  if (reason == FinishReason::Length) return "max_tokens";
  return tool_calls ? "tool_use" : "end_turn";
}

json anthropic_error(int status, const std::string& message) {
  const char* type = "api_error";
  switch (status) {
    case 400: type = "invalid_request_error"; break;
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503: case 529: type = "overloaded_error"; break;
    default: break;
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

void AnthropicBlockStream::open(Kind kind, const json& block, SseEvents& out) {
  close(out);
  ++index_;
  open_ = kind;
  out.emplace_back("content_block_start", json{{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
  if (!pinged_) {
    out.emplace_back("ping", json{{"type", "ping"}});
    pinged_ = true;
  }
}

void AnthropicBlockStream::close(SseEvents& out) {
  if (open_ == Kind::None) return;
  if (open_ == Kind::Thinking)
    out.emplace_back("content_block_delta", json{{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "signature_delta"}, {"signature", ""}}}});
  out.emplace_back("content_block_stop", json{{"type", "content_block_stop"}, {"index", index_}});
  open_ = Kind::None;
}

void AnthropicBlockStream::add(const chat::OutputDelta& delta, SseEvents& out) {
  if (!delta.reasoning.empty()) {
    if (open_ != Kind::Thinking) open(Kind::Thinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}, out);
    out.emplace_back("content_block_delta", json{{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "thinking_delta"}, {"thinking", delta.reasoning}}}});
  }
  if (!delta.content.empty()) {
    if (open_ != Kind::Text) open(Kind::Text, {{"type", "text"}, {"text", ""}}, out);
    out.emplace_back("content_block_delta", json{{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "text_delta"}, {"text", delta.content}}}});
  }
  for (const chat::ToolCall& call : delta.tool_calls) {
    open(Kind::None, {{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", json::object()}}, out);
    out.emplace_back("content_block_delta", json{{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "input_json_delta"},
                                                            {"partial_json", anthropic_tool_input(call.arguments).dump()}}}});
    out.emplace_back("content_block_stop", json{{"type", "content_block_stop"}, {"index", index_}});
  }
}

}  // namespace hearth::server

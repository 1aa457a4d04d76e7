#include "server/responses_api.h"

#include <map>

namespace hearth::server {
namespace {

std::string parts_text(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  for (const json& p : content)
    if (p.is_object() && p.contains("text") && p["text"].is_string()) text += p["text"].get<std::string>();
    else if (p.is_object() && p.contains("refusal") && p["refusal"].is_string()) text += p["refusal"].get<std::string>();
    else bad_request(where, "'{}' may hold only text parts here", where);
  return text;
}

ordered_json user_content(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_request(where, "'{}.content' must be a string or a list of parts", where);
  ordered_json parts = ordered_json::array();
  bool has_image = false;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& p = content[i];
    const std::string type = p.is_object() ? p.value("type", "") : "";
    const std::string at = fmt::format("{}.content[{}]", where, i);
    if ((type == "input_text" || type == "output_text" || type == "text") && p.contains("text") && p["text"].is_string()) {
      parts.push_back({{"type", "text"}, {"text", p["text"]}});
    } else if (type == "input_image") {
      if (!p.contains("image_url") || !p["image_url"].is_string())
        bad_request(at, "'{}' needs an 'image_url' (a URL or a data: URL); file ids are not supported", at);
      parts.push_back({{"type", "image_url"}, {"image_url", {{"url", p["image_url"]}}}});
      has_image = true;
    } else {
      bad_request(at, "'{}' must be an input_text or input_image part, got '{}'", at, type);
    }
  }
  if (has_image) return parts;
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : "\n") + p["text"].get<std::string>();
  return text;
}

// The assistant message output items and calls join, when the last message
// is one (a reasoning item, then text, then calls make one turn).
ordered_json& assistant_turn(ordered_json& messages) {
  if (messages.empty() || messages.back().value("role", "") != "assistant")
    messages.push_back({{"role", "assistant"}, {"content", ""}});
  return messages.back();
}

}  // namespace

void responses_input_messages(const json& input, ordered_json& messages) {
  if (input.is_string()) {
    messages.push_back({{"role", "user"}, {"content", input.get<std::string>()}});
    return;
  }
  if (!input.is_array()) bad_request("input", "'input' must be a string or a list of items");
  std::map<std::string, std::string> call_names;
  for (const auto& m : messages)
    if (m.contains("tool_calls"))
      for (const auto& c : m["tool_calls"]) call_names[c.value("id", "")] = c["function"].value("name", "");
  for (size_t i = 0; i < input.size(); ++i) {
    const json& item = input[i];
    const std::string where = fmt::format("input[{}]", i);
    if (!item.is_object()) bad_request(where, "'{}' must be an object", where);
    const std::string type = item.value("type", item.contains("role") ? "message" : "");
    if (type == "message") {
      if (!item.contains("role") || !item["role"].is_string() || !item.contains("content"))
        bad_request(where, "'{}' needs 'role' and 'content'", where);
      const std::string role = item["role"].get<std::string>();
      if (role == "assistant") {
        ordered_json& turn = assistant_turn(messages);
        if (turn.contains("tool_calls")) messages.push_back({{"role", "assistant"}, {"content", ""}});
        messages.back()["content"] = messages.back()["content"].get<std::string>() + parts_text(item["content"], where);
      } else if (role == "user" || role == "system" || role == "developer") {
        messages.push_back({{"role", role}, {"content", user_content(item["content"], where)}});
      } else {
        bad_request(where, "'{}.role' must be user, assistant, system or developer, got '{}'", where, role);
      }
    } else if (type == "function_call") {
      for (const char* f : {"call_id", "name", "arguments"})
        if (!item.contains(f) || !item[f].is_string()) bad_request(where, "'{}' needs a '{}' string", where, f);
      call_names[item["call_id"].get<std::string>()] = item["name"].get<std::string>();
      ordered_json& turn = assistant_turn(messages);
      if (!turn.contains("tool_calls")) turn["tool_calls"] = ordered_json::array();
      turn["tool_calls"].push_back({{"id", item["call_id"]}, {"type", "function"},
                                    {"function", {{"name", item["name"]}, {"arguments", item["arguments"]}}}});
    } else if (type == "function_call_output") {
      if (!item.contains("call_id") || !item["call_id"].is_string() || !item.contains("output"))
        bad_request(where, "'{}' needs 'call_id' and 'output'", where);
      const std::string id = item["call_id"].get<std::string>();
      const json& output = item["output"];
      ordered_json tool = {{"role", "tool"}, {"tool_call_id", id},
                           {"content", output.is_string() ? output.get<std::string>() : parts_text(output, where)}};
      if (const auto it = call_names.find(id); it != call_names.end()) tool["name"] = it->second;
      messages.push_back(std::move(tool));
    } else if (type == "reasoning") {
      std::string text;
      for (const char* f : {"content", "summary"})
        if (text.empty() && item.contains(f) && item[f].is_array()) text = parts_text(item[f], where);
      // Reasoning opens the assistant turn whose text and calls follow it.
      const bool fresh_turn = !messages.empty() && messages.back().value("role", "") == "assistant" &&
                              messages.back()["content"] == "" && !messages.back().contains("tool_calls");
      if (!fresh_turn) messages.push_back({{"role", "assistant"}, {"content", ""}});
      if (!text.empty()) messages.back()["reasoning_content"] = text;
    } else {
      bad_request(where, "'{}' has type '{}': only message, function_call, function_call_output and reasoning items are supported",
                  where, type);
    }
  }
  // A reasoning item with nothing after it is no turn.
  if (!messages.empty() && messages.back().value("role", "") == "assistant" && messages.back()["content"] == "" &&
      !messages.back().contains("tool_calls"))
    messages.erase(messages.size() - 1);
}

ChatSetup responses_chat_setup(const json& body, const ordered_json& history) {
  ChatSetup setup;
  if (body.contains("instructions") && body["instructions"].is_string() && !body["instructions"].get<std::string>().empty())
    setup.messages.push_back({{"role", "system"}, {"content", body["instructions"]}});
  for (const auto& m : history) setup.messages.push_back(m);
  if (!body.contains("input")) bad_request("input", "'input' is required");
  responses_input_messages(body["input"], setup.messages);

  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) bad_request("tools", "'tools' must be an array");
    ordered_json tools = ordered_json::array();
    for (size_t i = 0; i < body["tools"].size(); ++i) {
      const json& t = body["tools"][i];
      const std::string where = fmt::format("tools[{}]", i);
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("name") || !t["name"].is_string())
        bad_request(where, "'{}' must be {{\"type\": \"function\", \"name\": ..., \"parameters\": ...}}; built-in tools "
                           "(web_search, file_search, ...) are not supported", where);
      ordered_json fn = {{"name", t["name"]}};
      if (t.contains("description") && t["description"].is_string()) fn["description"] = t["description"];
      fn["parameters"] = t.contains("parameters") && t["parameters"].is_object() ? t["parameters"] : json{{"type", "object"}};
      tools.push_back({{"type", "function"}, {"function", fn}});
    }
    if (!tools.empty()) setup.tools = std::move(tools);
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const json& c = body["tool_choice"];
    if (c.is_string()) {
      setup.tool_choice = c;
    } else if (c.is_object() && c.value("type", "") == "function" && c.contains("name") && c["name"].is_string()) {
      setup.tool_choice = {{"type", "function"}, {"function", {{"name", c["name"]}}}};
    } else {
      bad_request("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or {{\"type\": \"function\", \"name\": ...}}");
    }
  }
  if (body.contains("text") && body["text"].is_object() && body["text"].contains("format")) {
    const json& f = body["text"]["format"];
    const std::string type = f.is_object() ? f.value("type", "") : "";
    if (type == "json_object") {
      setup.format_grammar = grammar_for_any_json_object();
    } else if (type == "json_schema") {
      if (!f.contains("schema")) bad_request("text.format", "text.format json_schema needs a 'schema'");
      setup.format_grammar = grammar_for_schema(f["schema"], "text.format");
    } else if (type != "text") {
      bad_request("text.format", "text.format type must be 'text', 'json_object' or 'json_schema'");
    }
  }
  if (body.contains("reasoning") && body["reasoning"].is_object() && body["reasoning"].contains("effort") &&
      body["reasoning"]["effort"].is_string()) {
    const std::string effort = body["reasoning"]["effort"].get<std::string>();
    setup.template_variables.emplace_back("enable_thinking", effort != "none" && effort != "minimal");
    setup.template_variables.emplace_back("reasoning_effort", effort);
  }
  return setup;
}

void ResponsesOutput::open(Kind kind, std::vector<Event>& events) {
  close(events);
  open_ = kind;
  text_.clear();
  const size_t index = items_.size();
  json item, part;
  if (kind == Kind::Reasoning) {
    item = {{"type", "reasoning"}, {"id", random_id("rs_")}, {"summary", json::array()}, {"content", json::array()}};
    part = {{"type", "reasoning_text"}, {"text", ""}};
  } else {
    item = {{"type", "message"}, {"id", random_id("msg_")}, {"status", "in_progress"}, {"role", "assistant"},
            {"content", json::array()}};
    part = {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}, {"logprobs", json::array()}};
  }
  events.push_back({"response.output_item.added", {{"output_index", index}, {"item", item}}});
  events.push_back({"response.content_part.added",
                    {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"part", part}}});
  item["content"].push_back(part);
  items_.push_back(std::move(item));
}

void ResponsesOutput::close(std::vector<Event>& events) {
  if (open_ == Kind::None) return;
  const size_t index = items_.size() - 1;
  json& item = items_.back();
  json& part = item["content"][0];
  part["text"] = text_;
  const bool reasoning = open_ == Kind::Reasoning;
  events.push_back({reasoning ? "response.reasoning_text.done" : "response.output_text.done",
                    {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"text", text_}}});
  if (!reasoning) events.back().data["logprobs"] = json::array();
  events.push_back({"response.content_part.done",
                    {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"part", part}}});
  if (!reasoning) item["status"] = "completed";
  events.push_back({"response.output_item.done", {{"output_index", index}, {"item", item}}});
  open_ = Kind::None;
}

void ResponsesOutput::add(const chat::OutputDelta& delta, std::vector<Event>& events) {
  const auto text_delta = [&](Kind kind, const std::string& text) {
    if (text.empty()) return;
    if (open_ != kind) open(kind, events);
    text_ += text;
    json data = {{"item_id", items_.back()["id"]}, {"output_index", items_.size() - 1}, {"content_index", 0}, {"delta", text}};
    if (kind == Kind::Message) data["logprobs"] = json::array();
    events.push_back({kind == Kind::Reasoning ? "response.reasoning_text.delta" : "response.output_text.delta", data});
  };
  text_delta(Kind::Reasoning, delta.reasoning);
  text_delta(Kind::Message, delta.content);
  for (const chat::ToolCall& call : delta.tool_calls) {
    close(events);
    const size_t index = items_.size();
    json item = {{"type", "function_call"}, {"id", random_id("fc_")}, {"call_id", call.id}, {"name", call.name},
                 {"arguments", ""}, {"status", "in_progress"}};
    events.push_back({"response.output_item.added", {{"output_index", index}, {"item", item}}});
    events.push_back({"response.function_call_arguments.delta",
                      {{"item_id", item["id"]}, {"output_index", index}, {"delta", call.arguments}}});
    events.push_back({"response.function_call_arguments.done",
                      {{"item_id", item["id"]}, {"output_index", index}, {"name", call.name}, {"arguments", call.arguments}}});
    item["arguments"] = call.arguments;
    item["status"] = "completed";
    events.push_back({"response.output_item.done", {{"output_index", index}, {"item", item}}});
    items_.push_back(std::move(item));
  }
}

void ResponseStore::put(const std::string& id, ordered_json conversation, json response) {
  std::lock_guard lock(mutex_);
  const size_t bytes = conversation.dump().size() + response.dump().size();
  if (bytes > max_bytes_) return;  // too big to keep: a later previous_response_id gets a 404
  entries_.push_front({id, std::move(conversation), std::move(response), bytes});
  index_[id] = entries_.begin();
  bytes_ += bytes;
  while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= entries_.back().bytes;
    index_.erase(entries_.back().id);
    entries_.pop_back();
  }
}

std::optional<ordered_json> ResponseStore::conversation(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->conversation;
}

std::optional<json> ResponseStore::response(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second->response;
}

bool ResponseStore::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return false;
  bytes_ -= it->second->bytes;
  entries_.erase(it->second);
  index_.erase(it);
  return true;
}

}  // namespace hearth::server

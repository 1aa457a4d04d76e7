#include "server/chat_request.h"

#include <random>
#include <set>

#include "chat/messages.h"
#include "core/bounded_json.h"
#include "core/error.h"
#include "server/image_input.h"

namespace hearth::server {

std::string random_id(const std::string& prefix) {
  std::random_device rd;
  std::mt19937_64 rng((uint64_t(rd()) << 32) ^ rd());
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), uint32_t(rng()));
}

void reject_embedding_model(const ServedModel& model) {
  if (model.model().hparams().encoder)
    bad_request("model", "model '{}' ({}) is an embedding model: use /v1/embeddings or /api/embed", model.id(),
                model.architecture());
}

void check_context(const ServedModel& model, size_t prompt_tokens) {
  if (int64_t(prompt_tokens) >= model.n_ctx())
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens. However, your messages resulted in {} "
                               "tokens (and at least one more is needed for the reply). Shorten the messages, or start "
                               "the server with a larger --ctx.",
                               model.n_ctx(), prompt_tokens),
                   "invalid_request_error", "messages", "context_length_exceeded");
}

std::shared_ptr<const grammar::Grammar> grammar_for_schema(const json& schema, const std::string& field) {
  if (!schema.is_object() && !schema.is_boolean()) bad_request(field, "'{}' must be a JSON Schema object", field);
  try {
    return std::make_shared<const grammar::Grammar>(grammar::grammar_from_json_schema(schema, /*strict=*/true));
  } catch (const nlohmann::json::exception&) {
    bad_request(field, "'{}' cannot be enforced: a keyword has a value of the wrong type", field);
  } catch (const std::exception& e) {
    bad_request(field, "'{}' cannot be enforced: {}", field, e.what());
  }
}

std::shared_ptr<const grammar::Grammar> grammar_for_any_json_object() {
  return std::make_shared<const grammar::Grammar>(grammar::grammar_for_json_object());
}

namespace {

json call_schema(const json& tool, size_t index) {
  if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object() ||
      !tool["function"].contains("name") || !tool["function"]["name"].is_string())
    bad_request("tools", "tools[{}] must be {{\"type\": \"function\", \"function\": {{\"name\": ..., \"parameters\": ...}}}}", index);
  const json& fn = tool["function"];
  json parameters = fn.contains("parameters") && fn["parameters"].is_object() ? fn["parameters"] : json{{"type", "object"}};
  return json{{"type", "object"},
              {"properties", {{"name", {{"const", fn["name"]}}}, {"arguments", parameters}}},
              {"required", {"name", "arguments"}}};
}

// Types and roles of every message, before anything reads them; each error
// names the field ("messages[2].tool_calls[0].function.name").
void validate_messages(const ordered_json& messages) {
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool", "function"};
  for (size_t i = 0; i < messages.size(); ++i) {
    const ordered_json& m = messages[i];
    const std::string at = fmt::format("messages[{}]", i);
    if (!m.is_object()) bad_request("messages", "{} must be an object with 'role' and 'content'", at);
    if (!m.contains("role") || !m["role"].is_string()) bad_request("messages", "{}.role must be a string", at);
    if (!kRoles.count(m["role"].get<std::string>()))
      bad_request("messages", "{}.role must be 'system', 'developer', 'user', 'assistant' or 'tool'", at);
    if (m.contains("content")) {
      const ordered_json& c = m["content"];
      if (!c.is_null() && !c.is_string() && !c.is_array())
        bad_request("messages", "{}.content must be a string or a list of content parts", at);
      if (c.is_array())
        for (size_t j = 0; j < c.size(); ++j)
          if (!c[j].is_string() && (!c[j].is_object() || !c[j].contains("type") || !c[j]["type"].is_string()))
            bad_request("messages", "{}.content[{}] must be a string or an object with a 'type'", at, j);
    }
    for (const char* field : {"name", "tool_call_id"})
      if (m.contains(field) && !m[field].is_null() && !m[field].is_string())
        bad_request("messages", "{}.{} must be a string", at, field);
    if (!m.contains("tool_calls") || m["tool_calls"].is_null()) continue;
    if (!m["tool_calls"].is_array()) bad_request("messages", "{}.tool_calls must be a list", at);
    for (size_t j = 0; j < m["tool_calls"].size(); ++j) {
      const ordered_json& call = m["tool_calls"][j];
      const std::string call_at = fmt::format("{}.tool_calls[{}]", at, j);
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
        bad_request("messages", "{} must be {{\"type\": \"function\", \"function\": {{\"name\": ..., \"arguments\": ...}}}}", call_at);
      const ordered_json& fn = call["function"];
      if (!fn.contains("name") || !fn["name"].is_string()) bad_request("messages", "{}.function.name must be a string", call_at);
      if (fn.contains("arguments") && !fn["arguments"].is_string() && !fn["arguments"].is_object())
        bad_request("messages", "{}.function.arguments must be a JSON string or an object", call_at);
      if (call.contains("id") && !call["id"].is_null() && !call["id"].is_string())
        bad_request("messages", "{}.id must be a string", call_at);
    }
  }
}

}  // namespace

PreparedChat prepare_chat(const ServedModel& model, const ChatSetup& setup) {
  PreparedChat out;
  reject_embedding_model(model);
  if (!setup.messages.is_array() || setup.messages.empty())
    bad_request("messages", "'messages' must be a non-empty array of messages");
  validate_messages(setup.messages);
  chat::OrderedJson messages;
  try {
    // `reasoning` is another client's name for reasoning_content.
    chat::OrderedJson renamed = setup.messages;
    for (auto& m : renamed)
      if (m.is_object() && m.contains("reasoning") && !m.contains("reasoning_content")) m["reasoning_content"] = m["reasoning"];
    messages = chat::normalize_messages(renamed, chat::NormalizeOptions{});
  } catch (const nlohmann::json::exception&) {
    bad_request("messages", "invalid 'messages': a message has a field of the wrong type");
  } catch (const std::exception& e) {
    bad_request("messages", "invalid 'messages': {}", e.what());
  }
  // A preset's system prompt, unless the conversation brings its own.
  if (model.preset() && !model.preset()->system.empty() &&
      (messages.empty() || !messages[0].is_object() || messages[0].value("role", "") != "system"))
    messages.insert(messages.begin(), chat::OrderedJson{{"role", "system"}, {"content", model.preset()->system}});
  std::vector<RequestImage> images;
  if (chat::messages_have_images(messages)) {
    if (!model.vision())
      bad_request("messages", "model '{}' does not support images: send text only (or serve it with --mmproj)",
                  model.id());
    images = take_images(messages, model.allow_file_urls());
  }

  // tool_choice decides how the output is read and whether a grammar forces a call.
  std::optional<json> forced_schema;
  const json& choice = setup.tool_choice;
  const bool have_tools = setup.tools && setup.tools->is_array() && !setup.tools->empty();
  if (setup.tools && !setup.tools->is_array()) bad_request("tools", "'tools' must be an array");
  if (choice.is_string()) {
    const std::string c = choice.get<std::string>();
    if (c == "none") {
      out.tool_mode = ToolMode::Off;
    } else if (c == "required") {
      if (!have_tools) bad_request("tool_choice", "tool_choice 'required' needs a non-empty 'tools' list");
      json any = json::array();
      for (size_t i = 0; i < setup.tools->size(); ++i) any.push_back(call_schema(json((*setup.tools)[i]), i));
      forced_schema = any.size() == 1 ? any[0] : json{{"anyOf", any}};
    } else if (c != "auto") {
      bad_request("tool_choice", "tool_choice must be 'none', 'auto', 'required' or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}, got '{}'", c);
    }
  } else if (choice.is_object()) {
    const json* name = nullptr;
    if (choice.contains("function") && choice["function"].is_object() && choice["function"].contains("name"))
      name = &choice["function"]["name"];
    if (!name || !name->is_string()) bad_request("tool_choice", "tool_choice must name a function: {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}");
    if (!have_tools) bad_request("tool_choice", "tool_choice names '{}' but 'tools' is empty", name->get<std::string>());
    for (size_t i = 0; i < setup.tools->size() && !forced_schema; ++i) {
      const json tool((*setup.tools)[i]);
      if (tool.contains("function") && tool["function"].value("name", "") == name->get<std::string>())
        forced_schema = call_schema(tool, i);
    }
    if (!forced_schema) bad_request("tool_choice", "tool_choice names '{}', which is not in 'tools'", name->get<std::string>());
  } else if (!choice.is_null()) {
    bad_request("tool_choice", "tool_choice must be a string or an object");
  }
  if (have_tools)
    for (size_t i = 0; i < setup.tools->size(); ++i) call_schema(json((*setup.tools)[i]), i);  // validates the shape

  chat::TemplateInputs inputs;
  inputs.messages = messages;
  if (have_tools && out.tool_mode != ToolMode::Off) inputs.tools = *setup.tools;
  inputs.add_generation_prompt = true;
  inputs.bos_token = model.bos_text();
  inputs.eos_token = model.eos_text();
  inputs.extra_variables = setup.template_variables;
  std::string prompt_text;
  try {
    prompt_text = model.chat_template().render(inputs);
  } catch (const std::exception& e) {
    bad_request("messages", "the model's chat template rejected the messages: {}", e.what());
  }
  if (images.empty())
    out.params.prompt = model.tokenize_prompt(prompt_text);
  else
    tokenize_with_images(model, prompt_text, images, out.params);
  check_context(model, out.params.prompt.size());

  out.parser = model.output_config();
  if (out.tool_mode == ToolMode::Off) out.parser.format = chat::OutputFormat::Plain;
  if (!out.parser.reasoning_open.empty())
    out.parser.starts_in_reasoning =
        chat::prompt_opens_reasoning(prompt_text, out.parser.reasoning_open, out.parser.reasoning_close);
  if (forced_schema) {
    out.tool_mode = ToolMode::Forced;
    out.params.grammar = grammar_for_schema(*forced_schema, "tool_choice");
  } else if (setup.format_grammar) {
    out.params.grammar = setup.format_grammar;
  }
  if (out.params.grammar) {
    // Constrained output is the structure itself, never reasoning.
    out.parser.format = chat::OutputFormat::Plain;
    out.parser.reasoning_open.clear();
    out.parser.starts_in_reasoning = false;
  }
  return out;
}

std::vector<int32_t> prepare_raw_prompt(const ServedModel& model, const std::string& prompt, const char* field) {
  reject_embedding_model(model);
  std::vector<int32_t> tokens = model.tokenize_prompt(prompt);
  if (tokens.empty()) bad_request(field, "'{}' is empty", field);
  check_context(model, tokens.size());
  return tokens;
}

OutputAssembler::OutputAssembler(const chat::OutputParserConfig& parser, ToolMode mode, std::string id_prefix)
    : mode_(mode), id_prefix_(std::move(id_prefix)), parser_(parser) {}

chat::OutputDelta OutputAssembler::feed(std::string_view text) {
  if (mode_ == ToolMode::Forced) {
    forced_text_.append(text);
    return {};
  }
  chat::OutputDelta delta = parser_.feed(text);
  for (auto& call : delta.tool_calls) call.id = fmt::format("{}{}", id_prefix_, result_.tool_calls.size()), result_.tool_calls.push_back(call);
  result_.content += delta.content;
  result_.reasoning += delta.reasoning;
  return delta;
}

chat::OutputDelta OutputAssembler::finish() {
  chat::OutputDelta delta;
  if (finished_) return delta;
  finished_ = true;
  if (mode_ == ToolMode::Forced) {
    const json call = parse_bounded_json<json>(forced_text_).value;
    if (call.is_object() && call.contains("name") && call["name"].is_string() && call.contains("arguments")) {
      chat::ToolCall tc{id_prefix_ + "0", call["name"].get<std::string>(),
                        call["arguments"].dump(-1, ' ', false, json::error_handler_t::replace)};
      delta.tool_calls.push_back(tc);
      result_.tool_calls.push_back(tc);
    } else {
      delta.content = forced_text_;  // cut short: hand back what there is
      result_.content = forced_text_;
    }
    return delta;
  }
  delta = parser_.finish();
  for (auto& call : delta.tool_calls) call.id = fmt::format("{}{}", id_prefix_, result_.tool_calls.size()), result_.tool_calls.push_back(call);
  result_.content += delta.content;
  result_.reasoning += delta.reasoning;
  return delta;
}

namespace {

double number_field(const json& object, const char* field, double low, double high) {
  const json& v = object[field];
  if (!v.is_number()) bad_request(field, "'{}' must be a number", field);
  const double d = v.get<double>();
  if (!(d >= low && d <= high)) bad_request(field, "'{}' must be between {} and {}, got {}", field, low, high, d);
  return d;
}

bool present(const json& object, const char* field) {
  return object.is_object() && object.contains(field) && !object[field].is_null();
}

}  // namespace

sampling::SamplerConfig read_sampling(const json& o, const SamplingFields& f) {
  sampling::SamplerConfig s;
  if (present(o, f.temperature)) s.temperature = float(number_field(o, f.temperature, 0, 2));
  if (present(o, f.top_p)) s.top_p = float(number_field(o, f.top_p, 0, 1));
  if (present(o, f.top_k)) s.top_k = int(number_field(o, f.top_k, 0, 1e9));
  if (present(o, f.min_p)) s.min_p = float(number_field(o, f.min_p, 0, 1));
  if (present(o, f.presence_penalty)) s.presence_penalty = float(number_field(o, f.presence_penalty, -2, 2));
  if (present(o, f.frequency_penalty)) s.frequency_penalty = float(number_field(o, f.frequency_penalty, -2, 2));
  if (present(o, f.repeat_penalty)) s.repeat_penalty = float(number_field(o, f.repeat_penalty, 0, 10));
  if (present(o, f.seed)) {
    if (!o[f.seed].is_number_integer()) bad_request(f.seed, "'{}' must be an integer", f.seed);
    s.seed = uint64_t(o[f.seed].get<int64_t>());
  } else {
    s.seed = std::random_device{}();
  }
  return s;
}

sampling::SamplerConfig read_sampling(const ServedModel& model, const json& o, const SamplingFields& f) {
  sampling::SamplerConfig s = read_sampling(o, f);
  if (!model.preset()) return s;
  const store::Preset& p = *model.preset();
  if (p.temperature && !present(o, f.temperature)) s.temperature = float(*p.temperature);
  if (p.top_p && !present(o, f.top_p)) s.top_p = float(*p.top_p);
  if (p.top_k && !present(o, f.top_k)) s.top_k = int(*p.top_k);
  if (p.min_p && !present(o, f.min_p)) s.min_p = float(*p.min_p);
  if (p.presence_penalty && !present(o, f.presence_penalty)) s.presence_penalty = float(*p.presence_penalty);
  if (p.frequency_penalty && !present(o, f.frequency_penalty)) s.frequency_penalty = float(*p.frequency_penalty);
  if (p.repeat_penalty && !present(o, f.repeat_penalty)) s.repeat_penalty = float(*p.repeat_penalty);
  if (p.repeat_last_n && !present(o, "repeat_last_n")) s.penalty_last_n = int(*p.repeat_last_n);
  if (p.seed && !present(o, f.seed)) s.seed = uint64_t(*p.seed);
  return s;
}

int64_t preset_max_tokens(const ServedModel& model, int64_t fallback) {
  return model.preset() && model.preset()->num_predict ? *model.preset()->num_predict : fallback;
}

std::vector<std::string> read_stop(const json& o, const char* field) {
  std::vector<std::string> stop;
  if (!present(o, field)) return stop;
  const json& v = o[field];
  if (v.is_string()) {
    stop.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const json& s : v) {
      if (!s.is_string()) bad_request(field, "'{}' must be a string or a list of strings", field);
      stop.push_back(s.get<std::string>());
    }
  } else {
    bad_request(field, "'{}' must be a string or a list of strings", field);
  }
  std::erase_if(stop, [](const std::string& s) { return s.empty(); });
  return stop;
}

json openai_tool_call(const chat::ToolCall& call, size_t index, bool with_index) {
  json j = {{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
  if (with_index) j["index"] = index;
  return j;
}

json openai_message(const chat::ParsedOutput& out) {
  json message = {{"role", "assistant"}, {"content", out.content}};
  if (!out.reasoning.empty()) message["reasoning_content"] = message["reasoning"] = out.reasoning;
  if (!out.tool_calls.empty()) {
    json calls = json::array();
    for (size_t i = 0; i < out.tool_calls.size(); ++i) calls.push_back(openai_tool_call(out.tool_calls[i], i, false));
    message["tool_calls"] = calls;
    if (out.content.empty()) message["content"] = nullptr;
  }
  return message;
}

json openai_reasoning_delta(const std::string& reasoning) {
  return {{"reasoning_content", reasoning}, {"reasoning", reasoning}};
}

}  // namespace hearth::server

// A model's chat template: renders OpenAI-style messages into the prompt the
// model was trained on, exactly as Hugging Face transformers'
// apply_chat_template does, and reports what the template supports.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja/template.h"
#include "chat/output/output_parser.h"

namespace hearth::chat {

using OrderedJson = nlohmann::ordered_json;

// What the template is handed, named as transformers names it.
struct TemplateInputs {
  OrderedJson messages = OrderedJson::array();
  // The request's tools; unset means the template sees `tools` as none
  // (transformers always passes tools=, so `tools is defined` holds).
  std::optional<OrderedJson> tools;
  // llama.cpp's convention instead: without tools, leave `tools` and
  // `documents` undefined.
  bool leave_tools_undefined = false;
  bool add_generation_prompt = false;
  // Special-token texts; unset leaves the variable undefined.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  // Extra template variables (enable_thinking, reasoning_effort, ...).
  std::vector<std::pair<std::string, OrderedJson>> extra_variables;
  // Clock for strftime_now; unset means now (local time).
  std::optional<jinja::DateTime> now;
};

// What a template can do, read from its source, so a server can refuse a
// request the model cannot serve.
struct Capabilities {
  bool tools = false;            // renders a tools list / tool calls
  bool tool_responses = false;   // renders role "tool" messages
  bool images = false;           // emits image placeholders for image parts
  bool reasoning = false;        // has <think> / reasoning_content / harmony channels
  // The generation prompt (with the template's defaults) opens <think>.
  bool thinking_in_generation_prompt = false;
  bool system_role = true;       // accepts a system message
  bool developer_role = false;   // handles role "developer" itself (harmony)
};

class ChatTemplate {
 public:
  // Parses `source`; throws jinja::TemplateError naming `name` on a syntax error.
  ChatTemplate(std::string source, std::string name);

  // The ChatML template, used when a model has none.
  static ChatTemplate chatml();

  std::string render(const TemplateInputs& inputs, const jinja::RenderLimits& limits = {}) const;

  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }
  const Capabilities& capabilities() const { return capabilities_; }
  // How to parse the model's reply to `rendered_prompt` (the prompt decides
  // whether the reply starts inside a think block).
  OutputParserConfig output_config(std::string_view rendered_prompt) const;

 private:
  std::string source_;
  std::string name_;
  std::shared_ptr<const jinja::Template> compiled_;
  Capabilities capabilities_;
};

// Reads the capabilities from a template's source text (all but
// thinking_in_generation_prompt, which ChatTemplate finds by rendering).
Capabilities detect_capabilities(const std::string& source);

}  // namespace hearth::chat

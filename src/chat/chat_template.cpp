#include "chat/chat_template.h"


namespace hearth::chat {

namespace {

// ChatML, the format most instruction-tuned models without a template of
// their own understand.
constexpr const char* kChatmlSource =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- elif message['content'] is iterable %}"
    "{%- for part in message['content'] %}"
    "{%- if part is string %}{{- part }}{%- elif part['type'] == 'text' %}{{- part['text'] }}{%- endif %}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

}  // namespace

Capabilities detect_capabilities(const std::string& src) {
  Capabilities caps;
  caps.tools = contains(src, "tools") || contains(src, "tool_calls");
  caps.tool_responses = contains(src, "'tool'") || contains(src, "\"tool\"") || contains(src, "tool_response") ||
                        contains(src, "ipython");
  caps.images = contains(src, "image") && (contains(src, "'image'") || contains(src, "\"image\"") ||
                                           contains(src, "image_url") || contains(src, "<start_of_image>"));
  caps.reasoning = contains(src, "<think>") || contains(src, "reasoning_content") || contains(src, "<|channel|>") ||
                   contains(src, "enable_thinking") || contains(src, "thinking");
  caps.system_role = !contains(src, "System role not supported");
  caps.developer_role = contains(src, "developer") && contains(src, "<|channel|>");
  return caps;
}

ChatTemplate::ChatTemplate(std::string source, std::string name)
    : source_(std::move(source)),
      name_(std::move(name)),
      compiled_(std::make_shared<const jinja::Template>(source_, name_)),
      capabilities_(detect_capabilities(source_)) {
  // Whether the generation prompt leaves a think block open (the output then
  // starts inside reasoning) depends on the template's defaults, so render a
  // one-turn probe and look, rather than guess from the source.
  TemplateInputs probe;
  probe.messages = OrderedJson::array({{{"role", "user"}, {"content", "Hi"}}});
  probe.add_generation_prompt = true;
  jinja::RenderLimits limits;
  limits.max_time = std::chrono::milliseconds(100);
  try {
    capabilities_.thinking_in_generation_prompt = prompt_opens_reasoning(render(probe, limits));
  } catch (const jinja::TemplateError&) {
    // A template that cannot render the probe simply reports no open block.
  }
}

OutputParserConfig ChatTemplate::output_config(std::string_view rendered_prompt) const {
  OutputParserConfig config = output_config_for_template(source_);
  config.starts_in_reasoning = prompt_opens_reasoning(rendered_prompt, config.reasoning_open, config.reasoning_close);
  return config;
}

ChatTemplate ChatTemplate::chatml() { return ChatTemplate(kChatmlSource, "chatml (fallback)"); }

std::string ChatTemplate::render(const TemplateInputs& inputs, const jinja::RenderLimits& limits) const {
  jinja::Dict vars;
  vars.set("messages", jinja::Value::from_json(inputs.messages));
  if (inputs.tools) {
    vars.set("tools", jinja::Value::from_json(*inputs.tools));
  } else if (!inputs.leave_tools_undefined) {
    vars.set("tools", jinja::Value::none());
  }
  if (inputs.tools || !inputs.leave_tools_undefined) vars.set("documents", jinja::Value::none());
  vars.set("add_generation_prompt", jinja::Value(inputs.add_generation_prompt));
  if (inputs.bos_token) vars.set("bos_token", jinja::Value(*inputs.bos_token));
  if (inputs.eos_token) vars.set("eos_token", jinja::Value(*inputs.eos_token));
  for (const auto& [key, value] : inputs.extra_variables) vars.set(key, jinja::Value::from_json(value));
  jinja::RenderOptions options;
  options.limits = limits;
  if (inputs.now) {
    jinja::DateTime fixed = *inputs.now;
    options.clock = [fixed] { return fixed; };
  }
  return compiled_->render(vars, options);
}

}  // namespace hearth::chat

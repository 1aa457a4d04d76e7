// `hearth template render`: renders a chat template for a conversation,
// printing the prompt exactly as the model will see it (no newline added).
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/messages.h"
#include "chat/template_source.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::cli {
namespace {

struct TemplateRenderOptions {
  std::string template_path;
  std::string model_path;
  std::string template_name;
  std::string messages_path;
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::string now;
  std::vector<std::string> variables;
  bool normalize = false;
  bool tools_undefined = false;
};

chat::OrderedJson read_json_file(const std::string& path) {
  std::string text = chat::read_template_file(path);
  try {
    return chat::OrderedJson::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("'{}' is not valid JSON: {}", path, e.what());
  }
}

// "2026-01-15T10:30:00" (or with a space instead of T).
std::optional<chat::jinja::DateTime> parse_now(const std::string& text) {
  chat::jinja::DateTime t;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d%c%d:%d:%d", &t.year, &t.month, &t.day, &sep, &t.hour, &t.minute, &t.second) != 7 ||
      (sep != 'T' && sep != ' ') || t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 || t.hour > 23 ||
      t.minute > 59 || t.second > 60)
    return std::nullopt;
  return t;
}

// k=v: v is read as JSON when it is JSON (true, 3, "x", [..]), else as text.
std::pair<std::string, chat::OrderedJson> parse_variable(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) fail("--var expects NAME=VALUE, got '{}'", spec);
  std::string key = spec.substr(0, eq), value = spec.substr(eq + 1);
  chat::OrderedJson parsed = chat::OrderedJson::parse(value, nullptr, false);
  if (parsed.is_discarded()) parsed = value;
  return {key, parsed};
}

void run_render(const TemplateRenderOptions& o) {
  if (o.template_path.empty() == o.model_path.empty()) fail("give exactly one of --template FILE or --model GGUF");
  chat::TemplateInputs inputs;
  std::vector<std::string> warnings;
  std::optional<gguf::File> model;
  if (!o.model_path.empty()) {
    model.emplace(gguf::File::open(resolve_model_path(o.model_path)));
    inputs.bos_token = chat::special_token_text(model->metadata(), "tokenizer.ggml.bos_token_id");
    inputs.eos_token = chat::special_token_text(model->metadata(), "tokenizer.ggml.eos_token_id");
  }
  chat::TemplateChoice choice{o.template_path, o.template_name};
  chat::ChatTemplate tmpl = chat::select_chat_template(model ? &model->metadata() : nullptr, choice, warnings);
  for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);

  chat::OrderedJson conversation = read_json_file(o.messages_path);
  if (conversation.is_array()) {
    inputs.messages = conversation;
  } else if (conversation.is_object() && conversation.contains("messages")) {
    inputs.messages = conversation["messages"];
    if (conversation.contains("tools") && !conversation["tools"].is_null()) inputs.tools = conversation["tools"];
  } else {
    fail("'{}' must hold a JSON array of messages or an object with \"messages\"", o.messages_path);
  }
  if (o.normalize) inputs.messages = chat::normalize_messages(inputs.messages, chat::NormalizeOptions{});
  inputs.add_generation_prompt = o.add_generation_prompt;
  inputs.leave_tools_undefined = o.tools_undefined;
  if (o.bos_token) inputs.bos_token = o.bos_token;
  if (o.eos_token) inputs.eos_token = o.eos_token;
  if (!o.now.empty()) {
    inputs.now = parse_now(o.now);
    if (!inputs.now) fail("--now expects a time like 2026-01-15T10:30:00, got '{}'", o.now);
  }
  for (const auto& spec : o.variables) inputs.extra_variables.push_back(parse_variable(spec));

  std::string prompt = tmpl.render(inputs);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_template_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("template", "Chat templates: render a conversation into a model's prompt");
  cmd->require_subcommand(1);
  auto options = std::make_shared<TemplateRenderOptions>();
  CLI::App* render = cmd->add_subcommand(
      "render", "Render a conversation with a chat template, printing the prompt exactly (no newline added)");
  render->add_option("--template", options->template_path, "Jinja chat template file");
  render->add_option("--model", options->model_path, "GGUF model whose tokenizer.chat_template to use");
  render->add_option("--template-name", options->template_name,
                     "Named template of the model (tokenizer.chat_template.<name>, e.g. tool_use)");
  render->add_option("--messages", options->messages_path,
                     "JSON file: an array of messages, or {\"messages\": [...], \"tools\": [...]}")
      ->required();
  render->add_flag("--add-generation-prompt", options->add_generation_prompt,
                   "End with the header that starts the assistant's reply");
  render->add_option("--bos-token", options->bos_token, "Text of bos_token (default: the model's, else undefined)");
  render->add_option("--eos-token", options->eos_token, "Text of eos_token (default: the model's, else undefined)");
  render->add_option("--now", options->now, "Fixed time for strftime_now, e.g. 2026-01-15T10:30:00");
  render->add_option("--var", options->variables, "Extra template variable NAME=VALUE (VALUE as JSON if it parses)");
  render->add_flag("--normalize", options->normalize,
                   "Normalize messages as the server does (parse string tool-call arguments, ...)");
  render->add_flag("--tools-undefined", options->tools_undefined,
                   "Without tools, leave `tools` and `documents` undefined (llama.cpp's convention) instead of none");
  render->callback([options] { run_render(*options); });
}

}  // namespace hearth::cli

#include "cli/cmd_chat.h"

#include "chat/template_source.h"
#include "cli/chat_conversation.h"
#include "cli/chat_repl.h"

namespace hearth::cli {

std::optional<chat::ChatTemplate> chat_template_for_run(const gguf::File& file, const std::string& override_path,
                                                        bool raw) {
  if (raw) return std::nullopt;
  if (!override_path.empty()) return chat::ChatTemplate(chat::read_template_file(override_path), override_path);
  std::optional<std::string> source = chat::chat_template_from_gguf(file.metadata());
  if (!source) return std::nullopt;
  return chat::ChatTemplate(*source, "tokenizer.chat_template");
}

namespace {

chat::TemplateInputs base_inputs(const gguf::File& file) {
  chat::TemplateInputs inputs;
  inputs.add_generation_prompt = true;
  inputs.bos_token = chat::special_token_text(file.metadata(), "tokenizer.ggml.bos_token_id");
  inputs.eos_token = chat::special_token_text(file.metadata(), "tokenizer.ggml.eos_token_id");
  return inputs;
}

}  // namespace

std::string render_single_turn(const chat::ChatTemplate& chat_template, const gguf::File& file,
                               const std::string& system, const std::string& prompt) {
  chat::TemplateInputs inputs = base_inputs(file);
  if (!system.empty()) inputs.messages.push_back({{"role", "system"}, {"content", system}});
  inputs.messages.push_back({{"role", "user"}, {"content", prompt}});
  return chat_template.render(inputs);
}

int run_interactive_chat(LoadedEngine& engine, const tokenizer::Tokenizer& tokenizer,
                         const chat::ChatTemplate& chat_template, const ChatStart& start) {
  chat::TemplateInputs inputs = base_inputs(*engine.file);
  ChatSettings settings;
  settings.system = start.system;
  settings.sampling = start.sampling;
  settings.n_predict = start.n_predict;
  ChatConversation conversation(chat_template, tokenizer, *engine.session, inputs.bos_token, inputs.eos_token,
                                std::move(settings));
  return run_chat_repl(conversation, start.model_name);
}

}  // namespace hearth::cli

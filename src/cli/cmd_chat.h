// What `hearth run` does with a chat template: find it, render -p as one
// user turn, and open the interactive chat when no prompt is given on a
// terminal. cmd_run.cpp calls these; the chat itself is chat_repl.cpp.
#pragma once

#include <optional>
#include <string>

#include "chat/chat_template.h"
#include "cli/engine_options.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

// The template `hearth run` applies: the override file, else the model's
// own; unset with --raw or when the model has none (plain continuation).
std::optional<chat::ChatTemplate> chat_template_for_run(const gguf::File& file, const std::string& override_path,
                                                        bool raw);

// `prompt` as one user turn (after `system`, when given), with the
// generation prompt, as the model's template renders it.
std::string render_single_turn(const chat::ChatTemplate& chat_template, const gguf::File& file,
                               const std::string& system, const std::string& prompt);

struct ChatStart {
  std::string model_name;
  std::string system;
  sampling::SamplerConfig sampling;
  int n_predict = -1;
};

// Opens the interactive chat on the terminal; returns the exit status.
int run_interactive_chat(LoadedEngine& engine, const tokenizer::Tokenizer& tokenizer,
                         const chat::ChatTemplate& chat_template, const ChatStart& start);

}  // namespace hearth::cli

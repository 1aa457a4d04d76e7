// A conversation with a model through its chat template, as `hearth run`
// holds it: the messages so far, the settings the /set commands change, and
// the tokens already in the session's KV cache, so each turn evaluates only
// what changed since the last one. No terminal code here: the REPL
// (chat_repl.cpp) reads lines and prints; this renders, generates and keeps
// the history.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

struct ChatSettings {
  std::string system;  // empty: no system message
  sampling::SamplerConfig sampling;
  int n_predict = -1;  // per reply; < 0: until end of generation or a full context
  // enable_thinking for templates that read it (Qwen3); unset: the template's default.
  std::optional<bool> thinking;
};

// One reply as it streams: reasoning and content arrive separately.
struct ReplyCallbacks {
  std::function<void(std::string_view)> on_reasoning;
  std::function<void(std::string_view)> on_content;
};

struct ReplyResult {
  std::string content;
  std::string reasoning;
  runtime::StopReason stop = runtime::StopReason::EndOfGeneration;
  int64_t n_prompt_evaluated = 0;  // prompt tokens evaluated (not taken from the cache)
  int64_t n_generated = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// What a /command asks of the REPL.
struct CommandOutcome {
  bool quit = false;
  std::string message;  // to print (may be empty)
};

class ChatConversation {
 public:
  ChatConversation(chat::ChatTemplate chat_template, const tokenizer::Tokenizer& tokenizer, runtime::Session& session,
                   std::optional<std::string> bos_token, std::optional<std::string> eos_token, ChatSettings settings);

  // Adds a user turn, renders the conversation, generates the reply
  // (streamed through `callbacks`), and adds it as an assistant turn. A
  // reply stopped by `cancel` keeps what was generated. Throws hearth::Error
  // when the conversation no longer fits in the context (the user turn is
  // then dropped again).
  ReplyResult send(const std::string& user_text, const ReplyCallbacks& callbacks,
                   const std::atomic<bool>* cancel = nullptr);

  // Runs a line that starts with '/': /bye, /clear, /set ..., /show, /save,
  // /load, /help. Unknown commands and bad values give a message, not an error.
  CommandOutcome command(std::string_view line);

  // The prompt the model would see for the conversation so far, ending with
  // the generation prompt.
  std::string render_prompt() const;

  const chat::OrderedJson& messages() const { return messages_; }
  const ChatSettings& settings() const { return settings_; }
  void clear();

  // {"system": ..., "messages": [...]}; load also takes a bare array of messages.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::string set_option(std::string_view name, std::string_view value);

  chat::ChatTemplate template_;
  const tokenizer::Tokenizer& tokenizer_;
  runtime::Session& session_;
  std::optional<std::string> bos_token_, eos_token_;
  ChatSettings settings_;
  chat::OrderedJson messages_ = chat::OrderedJson::array();
  std::vector<int32_t> cached_;  // the tokens the session's KV cache holds
};

// Tokens of a rendered chat prompt: special tokens parsed, BOS added only
// when the template did not write it.
std::vector<int32_t> tokenize_chat_prompt(const tokenizer::Tokenizer& tokenizer, const std::string& text);

// Help text for the REPL's commands.
std::string chat_help();

}  // namespace hearth::cli

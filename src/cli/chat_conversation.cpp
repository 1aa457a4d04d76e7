#include "cli/chat_conversation.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "chat/output/output_parser.h"
#include "core/error.h"
#include "core/read_file.h"

namespace hearth::cli {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The first word of `s`, and `s` advanced past it and the spaces after it.
std::string_view next_word(std::string_view& s) {
  s = trim(s);
  size_t end = s.find_first_of(" \t");
  std::string_view word = s.substr(0, end);
  s = end == std::string_view::npos ? std::string_view() : trim(s.substr(end));
  return word;
}

std::optional<double> parse_number(std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string chat_help() {
  return "Commands:\n"
         "  /set system TEXT        set the system prompt (/set system with no text removes it)\n"
         "  /set temperature 0.7    also top_k, top_p, min_p, repeat_penalty, presence_penalty,\n"
         "                          frequency_penalty, repeat_last_n, seed, num_predict\n"
         "  /set think | nothink    turn a thinking model's reasoning on or off\n"
         "  /show                   the settings\n"
         "  /clear                  forget the conversation (the system prompt stays)\n"
         "  /save FILE, /load FILE  write or read the conversation as JSON\n"
         "  /bye                    leave (or Ctrl-D)\n"
         "Start and end a multi-line message with \"\"\", or end a line with \\ to go on.\n"
         "Ctrl-C stops a reply.";
}

ChatConversation::ChatConversation(chat::ChatTemplate chat_template, const tokenizer::Tokenizer& tokenizer,
                                   runtime::Session& session, std::optional<std::string> bos_token,
                                   std::optional<std::string> eos_token, ChatSettings settings)
    : template_(std::move(chat_template)),
      tokenizer_(tokenizer),
      session_(session),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)),
      settings_(std::move(settings)) {}

std::string ChatConversation::render_prompt() const {
  chat::TemplateInputs inputs;
  if (!settings_.system.empty()) inputs.messages.push_back({{"role", "system"}, {"content", settings_.system}});
  for (const auto& m : messages_) inputs.messages.push_back(m);
  inputs.add_generation_prompt = true;
  inputs.bos_token = bos_token_;
  inputs.eos_token = eos_token_;
  if (settings_.thinking) inputs.extra_variables.emplace_back("enable_thinking", *settings_.thinking);
  return template_.render(inputs);
}

std::vector<int32_t> tokenize_chat_prompt(const tokenizer::Tokenizer& tokenizer, const std::string& text) {
  // The template writes the BOS text itself when the model wants one.
  const int32_t bos = tokenizer.bos();
  const bool has_bos = bos >= 0 && !tokenizer.token_text(bos).empty() && text.starts_with(tokenizer.token_text(bos));
  return tokenizer.encode(text, /*add_special=*/!has_bos, /*parse_special=*/true);
}

ReplyResult ChatConversation::send(const std::string& user_text, const ReplyCallbacks& callbacks,
                                   const std::atomic<bool>* cancel) {
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  std::string prompt_text;
  std::vector<int32_t> prompt;
  try {
    prompt_text = render_prompt();
    prompt = tokenize_chat_prompt(tokenizer_, prompt_text);
    if (int64_t(prompt.size()) >= session_.n_ctx())
      fail("the conversation needs {} tokens but the context holds {}: /clear to start over, or raise --ctx",
           prompt.size(), session_.n_ctx());
  } catch (...) {
    messages_.erase(messages_.size() - 1);
    throw;
  }

  // Evaluate only what differs from what the KV cache already holds (at
  // least one token, for the logits of the next one).
  size_t common = 0;
  while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) ++common;
  if (common == prompt.size()) --common;
  common = size_t(session_.truncate(int64_t(common)));
  cached_.resize(common);

  runtime::GenerateOptions options;
  options.n_predict = settings_.n_predict;
  options.sampling = settings_.sampling;
  options.cancel = cancel;

  chat::StreamingOutputParser parser(template_.output_config(prompt_text));
  auto emit = [&](const chat::OutputDelta& d) {
    if (!d.reasoning.empty() && callbacks.on_reasoning) callbacks.on_reasoning(d.reasoning);
    if (!d.content.empty() && callbacks.on_content) callbacks.on_content(d.content);
  };
  const std::span<const int32_t> fresh(prompt.data() + common, prompt.size() - common);
  runtime::GenerateResult generated;
  try {
    generated = runtime::generate(session_, tokenizer_, fresh, options, [&](std::string_view piece) { emit(parser.feed(piece)); });
  } catch (...) {
    // The session may hold part of the prompt: start the next turn afresh.
    session_.reset();
    cached_.clear();
    messages_.erase(messages_.size() - 1);
    throw;
  }
  emit(parser.finish());

  // The KV cache holds the prompt and every generated token but the last
  // (sampled, never evaluated).
  cached_ = prompt;
  if (!generated.tokens.empty()) cached_.insert(cached_.end(), generated.tokens.begin(), generated.tokens.end() - 1);

  ReplyResult result;
  result.content = parser.result().content;
  result.reasoning = parser.result().reasoning;
  result.stop = generated.stop;
  result.n_prompt_evaluated = int64_t(fresh.size());
  result.n_generated = int64_t(generated.tokens.size());
  result.prefill_seconds = generated.prefill_seconds;
  result.decode_seconds = generated.decode_seconds;
  if (result.content.empty() && result.reasoning.empty() && generated.stop == runtime::StopReason::Cancelled) {
    messages_.erase(messages_.size() - 1);  // stopped before anything came: as if never sent
  } else {
    messages_.push_back({{"role", "assistant"}, {"content", result.content}});
  }
  return result;
}

void ChatConversation::clear() {
  messages_ = chat::OrderedJson::array();
  // The KV cache still holds a valid prefix (the system prompt); send() reuses what matches.
}

std::string ChatConversation::set_option(std::string_view name_in, std::string_view value) {
  std::string name(name_in);
  std::replace(name.begin(), name.end(), '-', '_');
  if (name == "system") {
    settings_.system = std::string(value);
    return value.empty() ? "System prompt removed." : "System prompt set.";
  }
  if (name == "think" || name == "nothink") {
    settings_.thinking = name == "think";
    return name == "think" ? "Thinking on (for templates that read enable_thinking)." : "Thinking off.";
  }
  if (name == "parameter") {  // ollama's spelling: /set parameter NAME VALUE
    std::string_view rest = value;
    std::string_view inner = next_word(rest);
    if (inner.empty()) return "Usage: /set parameter NAME VALUE";
    return set_option(inner, rest);
  }
  std::optional<double> v = parse_number(value);
  if (!v) return fmt::format("'{}' needs a number (/set {} VALUE)", name, name);
  auto& s = settings_.sampling;
  if (name == "temperature" || name == "temp") {
    s.temperature = float(*v);
  } else if (name == "top_k") {
    s.top_k = int(*v);
  } else if (name == "top_p") {
    s.top_p = float(*v);
  } else if (name == "min_p") {
    s.min_p = float(*v);
  } else if (name == "repeat_penalty") {
    s.repeat_penalty = float(*v);
  } else if (name == "presence_penalty") {
    s.presence_penalty = float(*v);
  } else if (name == "frequency_penalty") {
    s.frequency_penalty = float(*v);
  } else if (name == "repeat_last_n") {
    s.penalty_last_n = int(*v);
  } else if (name == "seed") {
    s.seed = uint64_t(*v);
  } else if (name == "num_predict" || name == "n") {
    settings_.n_predict = int(*v);
  } else {
    return fmt::format("Unknown setting '{}'. /help lists them.", name);
  }
  return fmt::format("Set '{}' to '{}'.", name, trim(value));
}

CommandOutcome ChatConversation::command(std::string_view line) {
  std::string_view rest = trim(line);
  std::string_view cmd = next_word(rest);
  if (cmd == "/bye" || cmd == "/exit" || cmd == "/quit") return {true, ""};
  if (cmd == "/clear") {
    clear();
    return {false, "Cleared the conversation."};
  }
  if (cmd == "/help" || cmd == "/?") return {false, chat_help()};
  if (cmd == "/set") {
    std::string_view name = next_word(rest);
    if (name.empty()) return {false, "Usage: /set NAME VALUE (/help lists the settings)"};
    return {false, set_option(name, rest)};
  }
  if (cmd == "/show") {
    const auto& s = settings_.sampling;
    return {false, fmt::format("system: {}\ntemperature {} top_k {} top_p {} min_p {} repeat_penalty {} "
                               "presence_penalty {} frequency_penalty {} repeat_last_n {} seed {} num_predict {}{}\n"
                               "messages: {}; template: {}",
                               settings_.system.empty() ? "(none)" : settings_.system, s.temperature, s.top_k, s.top_p,
                               s.min_p, s.repeat_penalty, s.presence_penalty, s.frequency_penalty, s.penalty_last_n,
                               s.seed, settings_.n_predict,
                               settings_.thinking ? (*settings_.thinking ? " think" : " nothink") : "",
                               messages_.size(), template_.name())};
  }
  if (cmd == "/save" || cmd == "/load") {
    if (rest.empty()) return {false, fmt::format("Usage: {} FILE", cmd)};
    try {
      if (cmd == "/save") {
        save(std::string(rest));
        return {false, fmt::format("Saved {} messages to {}.", messages_.size(), rest)};
      }
      load(std::string(rest));
      return {false, fmt::format("Loaded {} messages from {}.", messages_.size(), rest)};
    } catch (const std::exception& e) {
      return {false, e.what()};
    }
  }
  return {false, fmt::format("Unknown command '{}'. /help lists the commands.", cmd)};
}

void ChatConversation::save(const std::string& path) const {
  chat::OrderedJson out = {{"system", settings_.system}, {"messages", messages_}};
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("cannot write '{}'", path);
  f << out.dump(2) << "\n";
  if (!f) fail("cannot write '{}'", path);
}

void ChatConversation::load(const std::string& path) {
  chat::OrderedJson in;
  try {
    in = chat::OrderedJson::parse(read_file(path));
  } catch (const chat::OrderedJson::exception& e) {
    fail("'{}' is not valid JSON: {}", path, e.what());
  }
  chat::OrderedJson messages = in.is_array() ? in : in.value("messages", chat::OrderedJson());
  if (!messages.is_array()) fail("'{}' has no \"messages\" array", path);
  chat::OrderedJson kept = chat::OrderedJson::array();
  std::string system = in.is_object() ? in.value("system", std::string()) : std::string();
  for (const auto& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      fail("'{}': every message needs a \"role\" string", path);
    if (m["role"] == "system" && m.value("content", chat::OrderedJson()).is_string()) {
      system = m["content"].get<std::string>();  // a leading system message becomes the system prompt
      continue;
    }
    kept.push_back(m);
  }
  messages_ = std::move(kept);
  settings_.system = system;
}

}  // namespace hearth::cli

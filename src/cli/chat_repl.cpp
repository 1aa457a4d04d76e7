#include "cli/chat_repl.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <optional>

#include <unistd.h>

#include <editline/readline.h>
#include <fmt/format.h>

#include "core/error.h"

namespace hearth::cli {
namespace {

constexpr const char* kDim = "\x1b[2m";
constexpr const char* kReset = "\x1b[0m";

// Set by SIGINT while the chat runs. A signal handler can only reach a
// global; nothing else writes it.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Installs the SIGINT handler for the chat's lifetime, without SA_RESTART so
// a blocked read at the prompt returns.
class SigintGuard {
 public:
  SigintGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &previous_);
  }
  ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

enum class ReadStatus { Line, Interrupted, End };

ReadStatus read_line(const char* prompt, std::string& out) {
  g_interrupted.store(false);
  char* line = readline(prompt);
  if (!line) return g_interrupted.exchange(false) ? ReadStatus::Interrupted : ReadStatus::End;
  out = line;
  std::free(line);
  return ReadStatus::Line;
}

bool ends_with(const std::string& s, std::string_view suffix) { return s.size() >= suffix.size() && s.ends_with(suffix); }

// One message: a line; lines joined while they end with '\'; or everything
// between """ and """. Unset at end of input.
std::optional<std::string> read_message() {
  for (;;) {
    std::string line;
    ReadStatus status = read_line(">>> ", line);
    if (status == ReadStatus::End) return std::nullopt;
    if (status == ReadStatus::Interrupted) {
      fmt::print("\nUse Ctrl-D or /bye to exit.\n");
      continue;
    }
    std::string message;
    bool aborted = false;
    if (line.starts_with("\"\"\"")) {
      message = line.substr(3);
      bool closed = message.size() >= 3 && ends_with(message, "\"\"\"");
      while (!closed) {
        std::string more;
        ReadStatus s = read_line("... ", more);
        if (s == ReadStatus::End) return std::nullopt;
        if (s == ReadStatus::Interrupted) {
          aborted = true;
          break;
        }
        message += "\n" + more;
        closed = ends_with(more, "\"\"\"");
      }
      if (!aborted) message.resize(message.size() - 3);
    } else {
      message = line;
      while (ends_with(message, "\\")) {
        message.pop_back();
        std::string more;
        ReadStatus s = read_line("... ", more);
        if (s == ReadStatus::End) return std::nullopt;
        if (s == ReadStatus::Interrupted) {
          aborted = true;
          break;
        }
        message += "\n" + more;
      }
    }
    if (aborted) {
      fmt::print("\n");
      continue;
    }
    if (!message.empty()) add_history(message.c_str());
    return message;
  }
}

}  // namespace

void ReplyPrinter::reasoning(std::string_view text) {
  if (state_ == State::Nothing) {
    while (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    if (text.empty()) return;
    if (dim_) std::fputs(kDim, reasoning_out_);
    state_ = State::Reasoning;
  }
  if (state_ != State::Reasoning) return;  // reasoning after the answer began: not shown
  std::fwrite(text.data(), 1, text.size(), reasoning_out_);
  std::fflush(reasoning_out_);
}

void ReplyPrinter::content(std::string_view text) {
  if (state_ != State::Content) {
    while (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    if (text.empty()) return;
    if (state_ == State::Reasoning) {
      if (dim_) std::fputs(kReset, reasoning_out_);
      std::fputs("\n\n", reasoning_out_);
      std::fflush(reasoning_out_);
    }
    state_ = State::Content;
  }
  std::fwrite(text.data(), 1, text.size(), content_out_);
  std::fflush(content_out_);
}

void ReplyPrinter::finish() {
  if (state_ == State::Reasoning && dim_) std::fputs(kReset, reasoning_out_);
  std::fflush(reasoning_out_);
  std::fflush(content_out_);
}

int run_chat_repl(ChatConversation& conversation, const std::string& model_name) {
  SigintGuard sigint;
  rl_catch_signals = 0;
  using_history();
  const bool color = isatty(fileno(stdout)) != 0;
  fmt::print("Chatting with {}. Send a message, /? for help, /bye or Ctrl-D to leave.\n", model_name);
  std::fflush(stdout);
  for (;;) {
    std::optional<std::string> message = read_message();
    if (!message) {
      fmt::print("\n");
      return 0;
    }
    if (message->empty()) continue;
    if (message->front() == '/') {
      CommandOutcome outcome = conversation.command(*message);
      if (!outcome.message.empty()) fmt::print("{}\n", outcome.message);
      std::fflush(stdout);
      if (outcome.quit) return 0;
      continue;
    }
    ReplyPrinter printer(stdout, stdout, color);
    ReplyCallbacks callbacks{[&](std::string_view t) { printer.reasoning(t); },
                             [&](std::string_view t) { printer.content(t); }};
    g_interrupted.store(false);
    try {
      ReplyResult reply = conversation.send(*message, callbacks, &g_interrupted);
      printer.finish();
      if (reply.stop == runtime::StopReason::Cancelled) fmt::print("\n(stopped)");
      if (reply.stop == runtime::StopReason::ContextFull) fmt::print("\n(the context is full: /clear to start over)");
      fmt::print("\n\n");
    } catch (const Error& e) {
      printer.finish();
      fmt::print("\nerror: {}\n\n", e.what());
    } catch (const std::exception& e) {
      printer.finish();
      fmt::print("\nerror: {}\n\n", e.what());
    }
    std::fflush(stdout);
  }
}

}  // namespace hearth::cli

// The interactive side of `hearth run`: a line-editing chat loop on the
// terminal, and the printer that shows a reply's reasoning dimmed and apart
// from its answer.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "cli/chat_conversation.h"

namespace hearth::cli {

// Prints a streamed reply: reasoning first, dimmed when `dim` (a terminal),
// then a blank line and the answer. Reasoning goes to `reasoning_out`, the
// answer to `content_out` (the same stream on a terminal; stderr and stdout
// when the output is piped, so the answer alone can be captured).
class ReplyPrinter {
 public:
  ReplyPrinter(std::FILE* content_out, std::FILE* reasoning_out, bool dim)
      : content_out_(content_out), reasoning_out_(reasoning_out), dim_(dim) {}
  void reasoning(std::string_view text);
  void content(std::string_view text);
  // Closes the dimmed part if the reply ended inside it.
  void finish();
  bool printed_anything() const { return state_ != State::Nothing; }

 private:
  enum class State { Nothing, Reasoning, Content };
  std::FILE* content_out_;
  std::FILE* reasoning_out_;
  bool dim_;
  State state_ = State::Nothing;
};

// Runs the chat until /bye or end of input. Ctrl-C stops a reply; at the
// prompt it clears the line. Returns the exit status.
int run_chat_repl(ChatConversation& conversation, const std::string& model_name);

}  // namespace hearth::cli

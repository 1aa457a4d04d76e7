// Anthropic's Messages API mapped onto the chat machinery the OpenAI routes
// use: a request becomes a ChatSetup (OpenAI-form messages, tools and
// tool_choice), and assembled output becomes Anthropic's content blocks,
// whole or as the streamed events of
// https://docs.anthropic.com/en/api/messages-streaming.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/output/output_parser.h"
#include "server/chat_request.h"
#include "server/engine_loop.h"

namespace hearth::server {

// `system`, `messages`, `tools`, `tool_choice` and `thinking` of a Messages
// request as a ChatSetup. tool_result blocks become tool messages (before the
// rest of their user turn), tool_use blocks assistant tool_calls, thinking
// blocks reasoning_content, and image blocks OpenAI image_url parts (a data:
// URL for base64 sources). Throws ApiError 400 naming the field.
ChatSetup anthropic_chat_setup(const json& body);

// Assembled output as content blocks: thinking, then text, then tool_use.
json anthropic_content(const chat::ParsedOutput& out);
// A tool call's arguments text as the tool_use `input` object ({} when the
// text is not a JSON object).
json anthropic_tool_input(const std::string& arguments);

// end_turn, max_tokens, tool_use (stop_sequence needs the matched string,
// which the engine does not report).
const char* anthropic_stop_reason(FinishReason reason, bool tool_calls);

// {"type": "error", "error": {"type": ..., "message": ...}} for a status.
json anthropic_error(int status, const std::string& message);

// Named SSE events, in order.
using SseEvents = std::vector<std::pair<std::string, json>>;

// Opens, fills and closes content blocks as output arrives: a thinking block
// while reasoning streams, a text block for content, one tool_use block per
// call (its input as a single input_json_delta). A change of kind closes the
// open block; a ping follows the first block's start, as Anthropic's streams do.
class AnthropicBlockStream {
 public:
  void add(const chat::OutputDelta& delta, SseEvents& out);
  void close(SseEvents& out);  // closes the open block, if any

 private:
  enum class Kind { None, Thinking, Text };
  void open(Kind kind, const json& block, SseEvents& out);
  Kind open_ = Kind::None;
  int index_ = -1;
  bool pinged_ = false;
};

}  // namespace hearth::server

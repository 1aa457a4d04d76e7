// OpenAI's Responses API mapped onto the chat machinery: a request's
// `instructions`, `input` items and `previous_response_id` history become a
// ChatSetup, and output becomes Responses output items (reasoning, message,
// function_call), whole or as the streamed events of
// https://platform.openai.com/docs/api-reference/responses-streaming.
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/output/output_parser.h"
#include "server/chat_request.h"

namespace hearth::server {

// `input` (a string or a list of items: messages with input_text /
// input_image / output_text parts, function_call, function_call_output,
// reasoning) as chat messages appended to `messages`. Throws ApiError 400
// naming the item.
void responses_input_messages(const json& input, ordered_json& messages);

// The whole request as a ChatSetup: instructions (as a system message), the
// stored `history` of a previous response, the input, tools (function tools),
// tool_choice, text.format and reasoning.effort.
ChatSetup responses_chat_setup(const json& body, const ordered_json& history);

// Builds the output items as output arrives, and the events a stream sends
// for them: each item is added, filled by deltas and marked done in turn.
class ResponsesOutput {
 public:
  struct Event {
    std::string type;
    json data;  // without "type" and "sequence_number"
  };
  void add(const chat::OutputDelta& delta, std::vector<Event>& events);
  void close(std::vector<Event>& events);  // finishes the open item
  const json& items() const { return items_; }

 private:
  enum class Kind { None, Reasoning, Message };
  void open(Kind kind, std::vector<Event>& events);
  json items_ = json::array();
  Kind open_ = Kind::None;
  std::string text_;  // of the open item
};

// The conversation behind each stored response (for previous_response_id)
// and the response object (for GET /v1/responses/{id}), least recently used
// dropped first beyond `max_entries` or `max_bytes`.
class ResponseStore {
 public:
  ResponseStore(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}
  void put(const std::string& id, ordered_json conversation, json response);
  std::optional<ordered_json> conversation(const std::string& id);
  std::optional<json> response(const std::string& id);
  bool erase(const std::string& id);

 private:
  struct Entry {
    std::string id;
    ordered_json conversation;
    json response;
    size_t bytes = 0;
  };
  std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t max_entries_, max_bytes_, bytes_ = 0;
};

}  // namespace hearth::server

// What the OpenAI and Ollama endpoints share: turning a chat (messages,
// tools, tool_choice, a JSON format) into a prompt and generation
// parameters, and turning the streamed output back into content, reasoning
// and tool calls.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/output/output_parser.h"
#include "server/api_error.h"
#include "server/engine_loop.h"
#include "server/served_model.h"

namespace hearth::server {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

enum class ToolMode {
  Parse,   // tool calls are read from the output in the template's format
  Forced,  // the grammar forces one call, written as {"name": ..., "arguments": ...}
  Off,     // tool_choice none: no tool calls are read
};

struct ChatSetup {
  ordered_json messages = ordered_json::array();
  std::optional<ordered_json> tools;           // OpenAI tools list
  json tool_choice = "auto";                   // none, auto, required, {"type":"function",...}
  std::shared_ptr<const grammar::Grammar> format_grammar;  // from response_format / format
  std::vector<std::pair<std::string, chat::OrderedJson>> template_variables;  // chat_template_kwargs
};

struct PreparedChat {
  GenerationParams params;
  chat::OutputParserConfig parser;
  ToolMode tool_mode = ToolMode::Parse;
};

// Renders and tokenizes the chat and picks the grammar; throws ApiError (400)
// naming the field for malformed input, images on a text-only model, or a
// prompt that does not fit the context.
PreparedChat prepare_chat(const ServedModel& model, const ChatSetup& setup);

// A raw prompt (completions, Ollama raw generate), checked against the context.
std::vector<int32_t> prepare_raw_prompt(const ServedModel& model, const std::string& prompt, const char* field);

// 400 for a generation request to an embedding model.
void reject_embedding_model(const ServedModel& model);

// Checks that a prompt fits; 400 context_length_exceeded with both sizes.
void check_context(const ServedModel& model, size_t prompt_tokens);

// JSON Schema / json_object to a grammar; 400 naming `field` when unsupported.
std::shared_ptr<const grammar::Grammar> grammar_for_schema(const json& schema, const std::string& field);
std::shared_ptr<const grammar::Grammar> grammar_for_any_json_object();

// Turns output text into what a chat API streams: content and reasoning
// deltas, and tool calls when they are complete.
class OutputAssembler {
 public:
  OutputAssembler(const chat::OutputParserConfig& parser, ToolMode mode, std::string id_prefix);
  chat::OutputDelta feed(std::string_view text);
  chat::OutputDelta finish();
  const chat::ParsedOutput& result() const { return result_; }

 private:
  ToolMode mode_;
  std::string id_prefix_;
  chat::StreamingOutputParser parser_;
  std::string forced_text_;
  chat::ParsedOutput result_;
  bool finished_ = false;
};

// Sampling fields common to both APIs, read from `object` (OpenAI's body or
// Ollama's options). Throws 400 naming the field for wrong types or ranges.
struct SamplingFields {
  const char* temperature = "temperature";
  const char* top_p = "top_p";
  const char* top_k = "top_k";
  const char* min_p = "min_p";
  const char* seed = "seed";
  const char* presence_penalty = "presence_penalty";
  const char* frequency_penalty = "frequency_penalty";
  const char* repeat_penalty = "repeat_penalty";
};
sampling::SamplerConfig read_sampling(const json& object, const SamplingFields& fields = {});
// The same, with the model's preset defaults (temperature, top_k, ...,
// repeat_last_n) where the request sets none.
sampling::SamplerConfig read_sampling(const ServedModel& model, const json& object, const SamplingFields& fields = {});
// The preset's num_predict when the request gives no length (else `fallback`).
int64_t preset_max_tokens(const ServedModel& model, int64_t fallback);

// "stop": a string or a list of strings.
std::vector<std::string> read_stop(const json& object, const char* field);

// A fresh id: prefix + 24 hex digits.
std::string random_id(const std::string& prefix);

// OpenAI's JSON for assembled output. Reasoning goes under both names clients
// read: reasoning_content (DeepSeek, llama.cpp) and reasoning (OpenRouter).
json openai_tool_call(const chat::ToolCall& call, size_t index, bool with_index);
json openai_message(const chat::ParsedOutput& out);                 // a whole assistant message
json openai_reasoning_delta(const std::string& reasoning);          // a streamed delta's reasoning

}  // namespace hearth::server

// Turns a model's raw output back into what a chat API returns: content,
// reasoning and tool calls. One parser per output family, each usable on the
// whole text or fed chunk by chunk while the model streams.
//
// Rules shared by every family: tool calls are never looked for inside
// reasoning; a malformed tool call stays in the content (never an error);
// streaming gives the same final result as parsing the whole text, and the
// content and reasoning it streams are always prefixes of the final ones.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat {

enum class OutputFormat {
  Plain,        // text only (with optional <think> reasoning)
  Hermes,       // Hermes 2/3, Qwen2.5, Qwen3: <tool_call>{"name":..,"arguments":..}</tool_call>
  Llama3,       // Llama 3.x: a bare JSON call {"name":..,"parameters":..}, or <|python_tag|>
  Mistral,      // [TOOL_CALLS][{...}] (v3) or [TOOL_CALLS]name[ARGS]{...} (v11+)
  GemmaPython,  // [func(a=1, b="x"), other(...)]: the custom Gemma 3 template's python list
  DeepSeekR1,   // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>name ```json ...```
  Harmony,      // gpt-oss: <|channel|>analysis / commentary to=functions.x / final
  KimiK2,       // <|tool_calls_section_begin|><|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{...}
};

const char* output_format_name(OutputFormat format);

struct ToolCall {
  std::string id;         // "call_<n>" unless the model gave one
  std::string name;
  std::string arguments;  // a JSON object, as text (OpenAI's wire form)
  bool operator==(const ToolCall&) const = default;
};

struct ParsedOutput {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;
  bool operator==(const ParsedOutput&) const = default;
};

struct OutputParserConfig {
  OutputFormat format = OutputFormat::Plain;
  // Reasoning delimiters; empty open tag = no reasoning split.
  std::string reasoning_open = "<think>";
  std::string reasoning_close = "</think>";
  // The prompt already opened the reasoning block (the generation prompt
  // ends with <think>), so the output starts inside reasoning.
  bool starts_in_reasoning = false;
};

// The parser for a chat template, read from its source.
OutputParserConfig output_config_for_template(const std::string& template_source);
// Whether a rendered prompt ends inside an open reasoning block.
bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag = "<think>",
                            std::string_view close_tag = "</think>");

// Parses a complete output.
ParsedOutput parse_output(std::string_view text, const OutputParserConfig& config);

// What became certain after a chunk: text to append to content and
// reasoning, and tool calls completed since the last delta.
struct OutputDelta {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;
};

class StreamingOutputParser {
 public:
  explicit StreamingOutputParser(OutputParserConfig config) : config_(std::move(config)) {}

  OutputDelta feed(std::string_view chunk);
  // Ends the stream; the returned delta completes everything. result() is
  // then the same as parse_output on the whole text.
  OutputDelta finish();
  const ParsedOutput& result() const { return final_; }

 private:
  OutputDelta delta_to(const ParsedOutput& now);

  OutputParserConfig config_;
  std::string text_;
  size_t content_sent_ = 0;
  size_t reasoning_sent_ = 0;
  size_t calls_sent_ = 0;
  ParsedOutput final_;
};

// Internal: `partial` parses a prefix of an output, keeping back whatever may
// still change (a marker's first characters, an unfinished call, trailing
// whitespace).
ParsedOutput parse_output_prefix(std::string_view text, const OutputParserConfig& config, bool partial);

}  // namespace hearth::chat

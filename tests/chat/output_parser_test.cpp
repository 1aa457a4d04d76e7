// Output parsers on realistic model outputs, written after the formats the
// model cards and format docs give (Qwen function calling docs, Hermes
// function-calling format, Llama 3.1 model card, Mistral tool calling,
// the custom Gemma 3 template's instructions, DeepSeek R1's chat template,
// OpenAI's harmony format guide). Each sample is parsed whole and streamed
// split at every position.
#include <gtest/gtest.h>

#include "chat/output/output_parser.h"
#include "common/fixtures.h"

namespace hearth::chat {
namespace {

struct Sample {
  const char* label;
  OutputParserConfig config;
  std::string output;
  ParsedOutput expected;
};

OutputParserConfig config(OutputFormat format, bool starts_in_reasoning = false, std::string open = "<think>",
                          std::string close = "</think>") {
  OutputParserConfig c;
  c.format = format;
  c.starts_in_reasoning = starts_in_reasoning;
  c.reasoning_open = std::move(open);
  c.reasoning_close = std::move(close);
  return c;
}

ToolCall call(std::string name, std::string args, std::string id) { return ToolCall{std::move(id), std::move(name), std::move(args)}; }

// DeepSeek markers (U+FF5C fullwidth bar, U+2581 lower one-eighth block).
const std::string kDsCallsBegin = "<｜tool▁calls▁begin｜>";
const std::string kDsCallsEnd = "<｜tool▁calls▁end｜>";
const std::string kDsCallBegin = "<｜tool▁call▁begin｜>";
const std::string kDsCallEnd = "<｜tool▁call▁end｜>";
const std::string kDsSep = "<｜tool▁sep｜>";

std::vector<Sample> samples() {
  std::vector<Sample> s;
  // Qwen2.5 docs: parallel calls, one <tool_call> block each.
  s.push_back({"qwen2.5 parallel calls", config(OutputFormat::Hermes),
               "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n</tool_call>\n"
               "<tool_call>\n{\"name\": \"get_temperature_date\", \"arguments\": {\"location\": \"San Francisco, CA, USA\", \"date\": \"2024-10-01\"}}\n</tool_call>",
               {"", "",
                {call("get_current_temperature", R"({"location":"San Francisco, CA, USA"})", "call_0"),
                 call("get_temperature_date", R"({"location":"San Francisco, CA, USA","date":"2024-10-01"})", "call_1")}}});
  // Hermes 2 Pro: text, then a call.
  s.push_back({"hermes text then call", config(OutputFormat::Hermes),
               "Let me look that up for you.\n<tool_call>\n{\"arguments\": {\"symbol\": \"TSLA\"}, \"name\": \"get_stock_fundamentals\"}\n</tool_call>",
               {"Let me look that up for you.", "", {call("get_stock_fundamentals", R"({"symbol":"TSLA"})", "call_0")}}});
  // Qwen3 thinking, then a call.
  s.push_back({"qwen3 think then call", config(OutputFormat::Hermes),
               "<think>\nThe user wants the weather in Paris. I should call get_weather with location Paris.\n</think>\n\n"
               "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris, France\", \"unit\": \"celsius\"}}\n</tool_call>",
               {"", "The user wants the weather in Paris. I should call get_weather with location Paris.",
                {call("get_weather", R"({"location":"Paris, France","unit":"celsius"})", "call_0")}}});
  // A call written inside reasoning is not a call.
  s.push_back({"call inside reasoning", config(OutputFormat::Hermes),
               "<think>I could emit <tool_call>{\"name\": \"calc\", \"arguments\": {\"x\": 1}}</tool_call> but 2+2 is easy.</think>2 + 2 = 4.",
               {"2 + 2 = 4.", "I could emit <tool_call>{\"name\": \"calc\", \"arguments\": {\"x\": 1}}</tool_call> but 2+2 is easy.", {}}});
  // Qwen3-Coder's XML body inside <tool_call> (its chat template's format).
  s.push_back({"qwen3-coder xml call", config(OutputFormat::Hermes),
               "<tool_call>\n<function=get_weather>\n<parameter=location>\nParis, France\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>",
               {"", "", {call("get_weather", R"({"location":"Paris, France","days":3})", "call_0")}}});
  // GLM 4.5's arg_key/arg_value body (its chat template's format).
  s.push_back({"glm-4.5 call", config(OutputFormat::Hermes),
               "<think>Need the weather.</think>\n<tool_call>get_weather\n<arg_key>location</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>",
               {"", "Need the weather.", {call("get_weather", R"({"location":"Beijing"})", "call_0")}}});
  // Malformed JSON stays content.
  s.push_back({"hermes malformed", config(OutputFormat::Hermes),
               "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"\n</tool_call>",
               {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"\n</tool_call>", "", {}}});
  // DeepSeek-R1-Distill / QwQ: the generation prompt opened <think>.
  s.push_back({"think opened by prompt", config(OutputFormat::Hermes, true),
               "Okay, 17 * 23: 17 * 20 = 340, 17 * 3 = 51, total 391.\n</think>\n\n17 × 23 = **391**.",
               {"17 × 23 = **391**.", "Okay, 17 * 23: 17 * 20 = 340, 17 * 3 = 51, total 391.", {}}});
  s.push_back({"plain content", config(OutputFormat::Plain), "Hello! How can I help you today?",
               {"Hello! How can I help you today?", "", {}}});
  // Llama 3.1 model card: JSON-based tool calling.
  s.push_back({"llama3 json call", config(OutputFormat::Llama3, false, "", ""),
               "{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco\", \"unit\": \"Fahrenheit\"}}",
               {"", "", {call("get_current_conditions", R"({"location":"San Francisco","unit":"Fahrenheit"})", "call_0")}}});
  // Llama 3.1 built-in tool via <|python_tag|>.
  s.push_back({"llama3 brave_search", config(OutputFormat::Llama3, false, "", ""),
               "<|python_tag|>brave_search.call(query=\"current weather in Menlo Park, California\")<|eom_id|>",
               {"", "", {call("brave_search", R"({"query":"current weather in Menlo Park, California"})", "call_0")}}});
  s.push_back({"llama3 code interpreter", config(OutputFormat::Llama3, false, "", ""),
               "<|python_tag|>import math\nprint(math.sqrt(2))",
               {"", "", {call("python", R"J({"code":"import math\nprint(math.sqrt(2))"})J", "call_0")}}});
  // Llama 3.2 (1B/3B) pythonic calls, per its model card.
  s.push_back({"llama3.2 pythonic", config(OutputFormat::Llama3, false, "", ""),
               "[get_user_info(user_id=7890, special='black')]",
               {"", "", {call("get_user_info", R"({"user_id":7890,"special":"black"})", "call_0")}}});
  s.push_back({"llama3 plain answer", config(OutputFormat::Llama3, false, "", ""),
               "The capital of France is Paris.", {"The capital of France is Paris.", "", {}}});
  s.push_back({"llama3 json-looking text", config(OutputFormat::Llama3, false, "", ""),
               "{not json at all} is what I would say.", {"{not json at all} is what I would say.", "", {}}});
  // Mistral Nemo (v3 tokenizer): a JSON array with ids.
  s.push_back({"mistral v3 array", config(OutputFormat::Mistral, false, "", ""),
               "[TOOL_CALLS][{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris, France\", \"format\": \"celsius\"}, \"id\": \"D681PevKs\"}]",
               {"", "", {call("get_current_weather", R"({"location":"Paris, France","format":"celsius"})", "D681PevKs")}}});
  // Devstral / Magistral (v11+ tokenizer): name[ARGS]{...}, repeated.
  s.push_back({"mistral v11 two calls", config(OutputFormat::Mistral, false, "[THINK]", "[/THINK]"),
               "[THINK]Two cities, two calls.[/THINK]I'll check both.[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\"}[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Lyon\"}",
               {"I'll check both.", "Two cities, two calls.",
                {call("get_weather", R"({"location":"Paris"})", "call_0"), call("get_weather", R"({"location":"Lyon"})", "call_1")}}});
  s.push_back({"mistral malformed", config(OutputFormat::Mistral, false, "", ""),
               "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": ",
               {"[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\":", "", {}}});
  // The custom Gemma 3 template: "[func_name1(params_name1=params_value1, ...), func_name2(params)]".
  s.push_back({"gemma python list", config(OutputFormat::GemmaPython, false, "", ""),
               "[create_event(title=\"Picnic\", time={\"start\": \"2026-01-16T12:00:00\", \"end\": \"2026-01-16T14:00:00\"}, "
               "attendees=['ana@example.com', 'bob@example.com'], all_day=False, reminder_minutes=30), get_weather(location='Paris')]",
               {"", "",
                {call("create_event",
                      R"({"title":"Picnic","time":{"start":"2026-01-16T12:00:00","end":"2026-01-16T14:00:00"},"attendees":["ana@example.com","bob@example.com"],"all_day":false,"reminder_minutes":30})",
                      "call_0"),
                 call("get_weather", R"({"location":"Paris"})", "call_1")}}});
  s.push_back({"gemma text with brackets", config(OutputFormat::GemmaPython, false, "", ""),
               "Use a list like [1, 2, 3] or call [f(x) in math.", {"Use a list like [1, 2, 3] or call [f(x) in math.", "", {}}});
  s.push_back({"gemma text then call", config(OutputFormat::GemmaPython, false, "", ""),
               "Sure, checking now.\n[get_weather(location=\"Paris, France\", unit=\"celsius\")]",
               {"Sure, checking now.", "", {call("get_weather", R"({"location":"Paris, France","unit":"celsius"})", "call_0")}}});
  // DeepSeek R1: reasoning opened by the prompt, then the R1 call markers.
  s.push_back({"deepseek r1 call", config(OutputFormat::DeepSeekR1, true),
               "The user wants Tokyo's weather; use the tool.\n</think>\n\n" + kDsCallsBegin + kDsCallBegin + "function" + kDsSep +
                   "get_weather\n```json\n{\"location\": \"Tokyo\"}\n```" + kDsCallEnd + kDsCallsEnd,
               {"", "The user wants Tokyo's weather; use the tool.", {call("get_weather", R"({"location":"Tokyo"})", "call_0")}}});
  // DeepSeek V3.1: name<sep>{json}.
  s.push_back({"deepseek v3.1 call", config(OutputFormat::DeepSeekR1),
               "Checking." + kDsCallsBegin + kDsCallBegin + "get_weather" + kDsSep + "{\"location\": \"Hangzhou\"}" + kDsCallEnd + kDsCallsEnd,
               {"Checking.", "", {call("get_weather", R"({"location":"Hangzhou"})", "call_0")}}});
  // Kimi K2: the call format its chat template writes for assistant turns.
  s.push_back({"kimi-k2 call", config(OutputFormat::KimiK2, false, "", ""),
               "Let me schedule it.<|tool_calls_section_begin|><|tool_call_begin|>functions.create_event:0<|tool_call_argument_begin|>"
               "{\"title\": \"Picnic\", \"all_day\": false}<|tool_call_end|><|tool_calls_section_end|>",
               {"Let me schedule it.", "", {call("create_event", R"({"title":"Picnic","all_day":false})", "functions.create_event:0")}}});
  // Malformed calls fall back to content, whole: broken JSON in a DeepSeek
  // call, a Kimi call without its argument marker.
  s.push_back({"deepseek malformed", config(OutputFormat::DeepSeekR1),
               "Checking." + kDsCallsBegin + kDsCallBegin + "get_weather" + kDsSep + "{\"location\": " + kDsCallEnd + kDsCallsEnd,
               {"Checking." + kDsCallsBegin + kDsCallBegin + "get_weather" + kDsSep + "{\"location\": " + kDsCallEnd + kDsCallsEnd,
                "", {}}});
  s.push_back({"kimi malformed", config(OutputFormat::KimiK2, false, "", ""),
               "Hm.<|tool_calls_section_begin|><|tool_call_begin|>functions.create_event:0 {}<|tool_call_end|><|tool_calls_section_end|>",
               {"Hm.<|tool_calls_section_begin|><|tool_call_begin|>functions.create_event:0 {}<|tool_call_end|><|tool_calls_section_end|>",
                "", {}}});
  // gpt-oss harmony (OpenAI harmony guide): analysis, then a function call.
  s.push_back({"harmony call", config(OutputFormat::Harmony, false, "", ""),
               "<|channel|>analysis<|message|>User asks: \"What is the weather in Tokyo?\" We need to use get_weather tool.<|end|>"
               "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"Tokyo\"}<|call|>",
               {"", "User asks: \"What is the weather in Tokyo?\" We need to use get_weather tool.",
                {call("get_weather", R"({"location":"Tokyo"})", "call_0")}}});
  s.push_back({"harmony final", config(OutputFormat::Harmony, false, "", ""),
               "<|channel|>analysis<|message|>Simple arithmetic.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>",
               {"2 + 2 = 4.", "Simple arithmetic.", {}}});
  return s;
}

void expect_same(const ParsedOutput& got, const ParsedOutput& want, const std::string& where) {
  EXPECT_EQ(got.content, want.content) << where;
  EXPECT_EQ(got.reasoning, want.reasoning) << where;
  ASSERT_EQ(got.tool_calls.size(), want.tool_calls.size()) << where;
  for (size_t i = 0; i < want.tool_calls.size(); ++i) {
    EXPECT_EQ(got.tool_calls[i].name, want.tool_calls[i].name) << where;
    EXPECT_EQ(got.tool_calls[i].arguments, want.tool_calls[i].arguments) << where;
    EXPECT_EQ(got.tool_calls[i].id, want.tool_calls[i].id) << where;
  }
}

// Streams `chunks`, checking that the deltas add up to the final result.
ParsedOutput stream(const OutputParserConfig& cfg, const std::vector<std::string_view>& chunks, const std::string& where) {
  StreamingOutputParser parser(cfg);
  ParsedOutput sum;
  auto add = [&](const OutputDelta& d) {
    sum.content += d.content;
    sum.reasoning += d.reasoning;
    sum.tool_calls.insert(sum.tool_calls.end(), d.tool_calls.begin(), d.tool_calls.end());
  };
  for (auto c : chunks) add(parser.feed(c));
  add(parser.finish());
  EXPECT_EQ(sum, parser.result()) << "streamed deltas differ from the final result: " << where;
  return parser.result();
}

TEST(OutputParsers, WholeOutputs) {
  for (const auto& s : samples()) expect_same(parse_output(s.output, s.config), s.expected, s.label);
}

TEST(OutputParsers, StreamingSplitAtEveryPosition) {
  for (const auto& s : samples()) {
    std::string_view text = s.output;
    for (size_t k = 0; k <= text.size(); ++k) {
      std::string where = std::string(s.label) + " split at " + std::to_string(k);
      expect_same(stream(s.config, {text.substr(0, k), text.substr(k)}, where), s.expected, where);
    }
    std::vector<std::string_view> bytes;
    for (size_t k = 0; k < text.size(); ++k) bytes.push_back(text.substr(k, 1));
    expect_same(stream(s.config, bytes, std::string(s.label) + " byte by byte"), s.expected, s.label);
  }
}

// The acceptance property on outputs no model card shows: arbitrary mixes of
// each family's markers, valid and broken calls, text and whitespace.
TEST(OutputParsers, StreamingEqualsWholeOnRandomOutputs) {
  const std::vector<std::string> fragments = {
      "<think>", "</think>", "<tool_call>", "</tool_call>", "{\"name\": \"f\", \"arguments\": {\"a\": 1}}",
      "{\"name\": \"g\", \"parameters\": {}}", "{\"broken\": ", "[TOOL_CALLS]", "[ARGS]", "[THINK]", "[/THINK]",
      "[f(a=1, b='x')]", "[g(", ")]", "<|python_tag|>", "brave_search.call(query=\"q\")", "<|channel|>analysis",
      "<|channel|>final", "<|message|>", "<|end|>", "<|start|>assistant", " to=functions.f", "<|call|>", "<|return|>",
      kDsCallsBegin, kDsCallBegin, kDsSep, kDsCallEnd, kDsCallsEnd, "function", "get_weather\n```json\n{\"x\": 2}\n```",
      "Hello", " world", "\n", "  ", "<", "[", "{", "}", "]", "é", "<function=f>", "<parameter=k>", "v", "</parameter>",
      "</function>", "<|tool_calls_section_begin|>", "<|tool_call_begin|>", "functions.f:0", "<|tool_call_argument_begin|>",
      "<|tool_call_end|>", "<|tool_calls_section_end|>"};
  const OutputFormat formats[] = {OutputFormat::Plain, OutputFormat::Hermes, OutputFormat::Llama3, OutputFormat::Mistral,
                                  OutputFormat::GemmaPython, OutputFormat::DeepSeekR1, OutputFormat::Harmony,
                                  OutputFormat::KimiK2};
  uint32_t state = 12345;
  auto next = [&](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  for (int round = 0; round < 400; ++round) {
    std::string text;
    for (uint32_t k = 0, n = 1 + next(10); k < n; ++k) text += fragments[next(uint32_t(fragments.size()))];
    OutputFormat format = formats[round % 8];
    OutputParserConfig cfg = config(format, next(3) == 0, format == OutputFormat::Mistral ? "[THINK]" : "<think>",
                                    format == OutputFormat::Mistral ? "[/THINK]" : "</think>");
    ParsedOutput whole = parse_output(text, cfg);
    std::string_view view = text;
    for (size_t k = 0; k <= text.size(); ++k) {
      std::string where = std::string(output_format_name(format)) + " [" + text + "] split at " + std::to_string(k);
      EXPECT_EQ(stream(cfg, {view.substr(0, k), view.substr(k)}, where), whole) << where;
    }
  }
}

TEST(OutputParsers, ConfigFromTemplates) {
  auto format_of = [](const std::string& name) {
    std::string source = hearth::test::read_text(hearth::test::fixture("templates/templates/" + name + ".jinja"));
    return output_config_for_template(source).format;
  };
  EXPECT_EQ(format_of("Qwen-Qwen3-0.6B"), OutputFormat::Hermes);
  EXPECT_EQ(format_of("NousResearch-Hermes-3-Llama-3.1-8B-tool_use"), OutputFormat::Hermes);
  EXPECT_EQ(format_of("meta-llama-Llama-3.1-8B-Instruct"), OutputFormat::Llama3);
  EXPECT_EQ(format_of("mistralai-Mistral-Nemo-Instruct-2407"), OutputFormat::Mistral);
  EXPECT_EQ(format_of("gemma3-tools-vision"), OutputFormat::GemmaPython);
  EXPECT_EQ(format_of("llama-cpp-deepseek-r1"), OutputFormat::DeepSeekR1);
  EXPECT_EQ(format_of("moonshotai-Kimi-K2"), OutputFormat::KimiK2);
}

TEST(OutputParsers, PromptOpensReasoning) {
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
}

}  // namespace
}  // namespace hearth::chat

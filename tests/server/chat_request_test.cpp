// Request building and output assembly, checked against OpenAI's shapes.
#include "server/chat_request.h"

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "server/http_server.h"

namespace hearth::server {
namespace {

TEST(OutputAssembler, ForcedCallBecomesAToolCall) {
  OutputAssembler a(chat::OutputParserConfig{}, ToolMode::Forced, "call_x");
  EXPECT_TRUE(a.feed(R"({"name": "get_weather", )").content.empty());
  a.feed(R"("arguments": {"city": "Paris"}})");
  const chat::OutputDelta d = a.finish();
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(nlohmann::json::parse(d.tool_calls[0].arguments), nlohmann::json::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(d.tool_calls[0].id, "call_x0");
  EXPECT_TRUE(a.result().content.empty());
}

TEST(OutputAssembler, HermesCallsAreParsedFromText) {
  chat::OutputParserConfig config;
  config.format = chat::OutputFormat::Hermes;
  OutputAssembler a(config, ToolMode::Parse, "call_");
  std::string content;
  for (const char* piece : {"<think>hmm</think>Sure. ", "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>"})
    content += a.feed(piece).content;
  content += a.finish().content;
  EXPECT_EQ(a.result().reasoning, "hmm");
  ASSERT_EQ(a.result().tool_calls.size(), 1u);
  EXPECT_EQ(a.result().tool_calls[0].name, "f");
  EXPECT_EQ(a.result().content, content);
}

// Reasoning reaches clients under both names they read, in a whole message
// and in a streamed delta; a message that is only a tool call has null content.
TEST(OpenAiJson, ReasoningUnderBothNamesAndToolCalls) {
  chat::OutputParserConfig config;
  config.format = chat::OutputFormat::Hermes;
  OutputAssembler a(config, ToolMode::Parse, "call_");
  a.feed("<think>The user wants weather.</think><tool_call>\n{\"name\": \"w\", \"arguments\": {}}\n</tool_call>");
  a.finish();
  const json m = openai_message(a.result());
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["reasoning_content"], "The user wants weather.");
  EXPECT_EQ(m["reasoning"], "The user wants weather.");
  EXPECT_TRUE(m["content"].is_null());
  ASSERT_EQ(m["tool_calls"].size(), 1u);
  EXPECT_EQ(m["tool_calls"][0]["type"], "function");
  EXPECT_EQ(m["tool_calls"][0]["function"]["name"], "w");
  EXPECT_FALSE(m["tool_calls"][0].contains("index"));  // only deltas carry an index
  const json d = openai_reasoning_delta("step 1");
  EXPECT_EQ(d, json::parse(R"({"reasoning_content": "step 1", "reasoning": "step 1"})"));
  EXPECT_EQ(openai_tool_call(a.result().tool_calls[0], 3, true)["index"], 3);

  chat::ParsedOutput plain;
  plain.content = "hi";
  const json p = openai_message(plain);
  EXPECT_EQ(p["content"], "hi");
  EXPECT_FALSE(p.contains("reasoning_content"));
  EXPECT_FALSE(p.contains("reasoning"));
}

TEST(Sampling, FieldsAreRangeChecked) {
  const auto s = read_sampling(nlohmann::json::parse(R"({"temperature": 0.5, "top_p": 0.9, "top_k": 7, "seed": 42})"));
  EXPECT_FLOAT_EQ(s.temperature, 0.5f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 7);
  EXPECT_EQ(s.seed, 42u);
  try {
    read_sampling(nlohmann::json::parse(R"({"temperature": 3})"));
    FAIL() << "temperature 3 accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "temperature");
  }
  EXPECT_THROW(read_stop(nlohmann::json::parse(R"({"stop": 5})"), "stop"), ApiError);
  EXPECT_EQ(read_stop(nlohmann::json::parse(R"({"stop": "x"})"), "stop"), std::vector<std::string>{"x"});
}

TEST(Json, InvalidUtf8IsReplacedNotThrown) {
  // Model output split inside a character must never turn into a 500.
  const std::string text = dump_json(nlohmann::json{{"content", std::string("ok \xE6\x97 end")}});
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_NE(text.find("end"), std::string::npos);
}

TEST(ModelId, FileNameWithoutGguf) {
  EXPECT_EQ(model_id_from_path("/models/Qwen3-8B-Q4_K_M.gguf"), "Qwen3-8B-Q4_K_M");
  EXPECT_EQ(model_id_from_path("stories260K.gguf"), "stories260K");
  EXPECT_EQ(model_id_from_path("plain"), "plain");
}

}  // namespace
}  // namespace hearth::server

// Anthropic Messages requests onto the chat machinery, and output onto
// Anthropic's content blocks and stream events (shapes from
// https://docs.anthropic.com/en/api/messages and .../messages-streaming).
#include "server/anthropic_api.h"

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

TEST(AnthropicRequest, SystemTurnsToolUseAndToolResultBecomeChatMessages) {
  const json body = json::parse(R"({
    "model": "m", "max_tokens": 10,
    "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
    "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Use the tool.", "signature": "x"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]},
        {"type": "text", "text": "And tomorrow?"}]}
    ],
    "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "tool", "name": "get_weather"},
    "thinking": {"type": "enabled", "budget_tokens": 1024}
  })");
  const ChatSetup s = anthropic_chat_setup(body);
  const ordered_json expected = ordered_json::parse(R"([
    {"role": "system", "content": "Be brief.\nBe kind."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "Checking.", "reasoning_content": "Use the tool.",
     "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C", "name": "get_weather"},
    {"role": "user", "content": "And tomorrow?"}
  ])");
  EXPECT_EQ(s.messages, expected);
  ASSERT_TRUE(s.tools);
  EXPECT_EQ((*s.tools)[0]["function"]["name"], "get_weather");
  EXPECT_EQ((*s.tools)[0]["function"]["parameters"], ordered_json({{"type", "object"}}));
  EXPECT_EQ(s.tool_choice, json::parse(R"({"type": "function", "function": {"name": "get_weather"}})"));
  ASSERT_EQ(s.template_variables.size(), 1u);
  EXPECT_EQ(s.template_variables[0].first, "enable_thinking");
  EXPECT_EQ(s.template_variables[0].second, true);
}

TEST(AnthropicRequest, ToolChoiceAnyIsRequiredAndImagesBecomeImageUrlParts) {
  const json body = json::parse(R"({
    "messages": [{"role": "user", "content": [
      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
      {"type": "text", "text": "What is it?"}]}],
    "tool_choice": {"type": "any"}
  })");
  const ChatSetup s = anthropic_chat_setup(body);
  EXPECT_EQ(s.tool_choice, "required");
  const ordered_json parts = s.messages[0]["content"];
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0]["type"], "image_url");
  EXPECT_EQ(parts[0]["image_url"]["url"], "data:image/jpeg;base64,AAAA");
  EXPECT_EQ(parts[1]["text"], "What is it?");
}

TEST(AnthropicRequest, MalformedInputIsA400NamingTheField) {
  const auto param_of = [](const char* text) {
    try {
      anthropic_chat_setup(json::parse(text));
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      return e.param;
    }
    return std::string("no error");
  };
  EXPECT_EQ(param_of(R"({"messages": []})"), "messages");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "system", "content": "x"}]})"), "messages[0]");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": [{"type": "video"}]}]})"), "messages[0].content[0]");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search_20250305", "name": "web_search"}]})"),
            "tools[0]");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "some"}})"), "tool_choice");
}

TEST(AnthropicOutput, ContentBlocksInOrderWithToolInputAsObject) {
  chat::ParsedOutput out;
  out.reasoning = "think";
  out.content = "Sure.";
  out.tool_calls.push_back({"toolu_a0", "f", R"({"x": 1})"});
  const json blocks = anthropic_content(out);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0], json::parse(R"({"type": "thinking", "thinking": "think", "signature": ""})"));
  EXPECT_EQ(blocks[1], json::parse(R"({"type": "text", "text": "Sure."})"));
  EXPECT_EQ(blocks[2], json::parse(R"({"type": "tool_use", "id": "toolu_a0", "name": "f", "input": {"x": 1}})"));
  EXPECT_EQ(anthropic_content(chat::ParsedOutput{}), json::parse(R"([{"type": "text", "text": ""}])"));
  EXPECT_STREQ(anthropic_stop_reason(FinishReason::Length, true), "max_tokens");
  EXPECT_STREQ(anthropic_stop_reason(FinishReason::Stop, true), "tool_use");
  EXPECT_STREQ(anthropic_stop_reason(FinishReason::Stop, false), "end_turn");
  EXPECT_EQ(anthropic_error(404, "gone")["error"]["type"], "not_found_error");
  EXPECT_EQ(anthropic_error(503, "busy")["error"]["type"], "overloaded_error");
}

// Reasoning parsed from <think> opens a thinking block, content a text block,
// each call its own tool_use block: the event order Anthropic documents.
TEST(AnthropicStream, ThinkingTextAndToolUseBlocksInDocumentedOrder) {
  chat::OutputParserConfig config;
  config.format = chat::OutputFormat::Hermes;
  OutputAssembler assembler(config, ToolMode::Parse, "toolu_x");
  AnthropicBlockStream blocks;
  SseEvents events;
  for (const char* piece : {"<think>Let me", " see.</think>", "It is ", "sunny.",
                            "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>"})
    blocks.add(assembler.feed(piece), events);
  blocks.add(assembler.finish(), events);
  blocks.close(events);
  std::vector<std::string> names;
  std::string thinking, text;
  for (const auto& [name, data] : events) {
    names.push_back(name);
    EXPECT_EQ(data["type"], name);
    if (name == "content_block_delta" && data["delta"]["type"] == "thinking_delta") thinking += data["delta"]["thinking"];
    if (name == "content_block_delta" && data["delta"]["type"] == "text_delta") text += data["delta"]["text"];
  }
  EXPECT_EQ(thinking, "Let me see.");
  EXPECT_EQ(text, assembler.result().content);
  EXPECT_EQ(names.front(), "content_block_start");
  EXPECT_EQ(names[1], "ping");
  EXPECT_EQ(std::count(names.begin(), names.end(), "ping"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "content_block_start"), 3);
  EXPECT_EQ(std::count(names.begin(), names.end(), "content_block_stop"), 3);
  // Indices rise by one per block; the tool_use block carries the input.
  int last_index = -1;
  for (const auto& [name, data] : events)
    if (name == "content_block_start") {
      EXPECT_EQ(data["index"], last_index + 1);
      last_index = data["index"];
    }
  const auto tool_start = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.first == "content_block_start" && e.second["content_block"]["type"] == "tool_use";
  });
  ASSERT_NE(tool_start, events.end());
  EXPECT_EQ(tool_start->second["content_block"]["name"], "f");
  EXPECT_EQ((tool_start + 1)->second["delta"], json::parse(R"({"type": "input_json_delta", "partial_json": "{\"a\":1}"})"));
  EXPECT_EQ(events.back().first, "content_block_stop");
}

}  // namespace
}  // namespace hearth::server

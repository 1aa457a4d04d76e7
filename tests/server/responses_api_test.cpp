// Responses API input items onto chat messages, output items and their
// stream events, and the bounded response store.
#include "server/responses_api.h"

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

TEST(ResponsesInput, ItemsBecomeOneAssistantTurnWithItsCallsAndToolMessages) {
  const json input = json::parse(R"([
    {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Use the tool."}]},
    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "18 C"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is 18 C."}]},
    {"role": "user", "content": "Thanks"}
  ])");
  ordered_json messages = ordered_json::array();
  responses_input_messages(input, messages);
  const ordered_json expected = ordered_json::parse(R"([
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": "", "reasoning_content": "Use the tool.",
     "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C", "name": "get_weather"},
    {"role": "assistant", "content": "It is 18 C."},
    {"role": "user", "content": "Thanks"}
  ])");
  EXPECT_EQ(messages, expected);
}

TEST(ResponsesInput, SetupTakesInstructionsHistoryToolsAndFormat) {
  const json body = json::parse(R"({
    "instructions": "Be brief.", "input": "Next",
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "f"},
    "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
    "reasoning": {"effort": "minimal"}
  })");
  const ordered_json history = ordered_json::parse(R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])");
  const ChatSetup s = responses_chat_setup(body, history);
  ASSERT_EQ(s.messages.size(), 4u);
  EXPECT_EQ(s.messages[0], ordered_json::parse(R"({"role": "system", "content": "Be brief."})"));
  EXPECT_EQ(s.messages[2]["content"], "Hello");
  EXPECT_EQ(s.messages[3]["content"], "Next");
  ASSERT_TRUE(s.tools);
  EXPECT_EQ((*s.tools)[0]["function"]["name"], "f");
  EXPECT_EQ(s.tool_choice, json::parse(R"({"type": "function", "function": {"name": "f"}})"));
  EXPECT_TRUE(s.format_grammar);
  ASSERT_EQ(s.template_variables.size(), 2u);
  EXPECT_EQ(s.template_variables[0].second, false);  // minimal effort: no thinking
}

TEST(ResponsesOutput, ItemsAndEventsFollowTheDocumentedLifecycle) {
  ResponsesOutput out;
  std::vector<ResponsesOutput::Event> events;
  out.add({"", "Let me think.", {}}, events);
  out.add({"Hello", "", {}}, events);
  out.add({" there", "", {{"call_0", "f", R"({"a":1})"}}}, events);
  out.close(events);
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type);
  const std::vector<std::string> expected = {
      "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta",
      "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
      "response.output_item.added", "response.content_part.added", "response.output_text.delta",
      "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done",
      "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
      "response.output_item.done"};
  EXPECT_EQ(types, expected);
  const json& items = out.items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["type"], "reasoning");
  EXPECT_EQ(items[0]["content"][0]["text"], "Let me think.");
  EXPECT_EQ(items[1]["type"], "message");
  EXPECT_EQ(items[1]["status"], "completed");
  EXPECT_EQ(items[1]["content"][0]["text"], "Hello there");
  EXPECT_EQ(items[2]["call_id"], "call_0");
  EXPECT_EQ(items[2]["arguments"], R"({"a":1})");
  for (const auto& e : events)
    if (e.data.contains("output_index")) EXPECT_LT(e.data["output_index"].get<size_t>(), items.size());
  EXPECT_EQ(events[10].data["text"], "Hello there");
}

TEST(ResponseStore, DropsTheLeastRecentlyUsedBeyondItsBound) {
  ResponseStore store(2, 1 << 20);
  store.put("a", ordered_json::array({1}), json::object());
  store.put("b", ordered_json::array({2}), json::object());
  EXPECT_TRUE(store.conversation("a"));  // a is now the most recent
  store.put("c", ordered_json::array({3}), json::object());
  EXPECT_TRUE(store.conversation("a"));
  EXPECT_FALSE(store.conversation("b"));
  EXPECT_TRUE(store.response("c"));
  EXPECT_TRUE(store.erase("c"));
  EXPECT_FALSE(store.response("c"));
  ResponseStore tiny(10, 8);
  tiny.put("big", ordered_json::array({"more than eight bytes"}), json::object());
  EXPECT_FALSE(tiny.conversation("big"));
}

}  // namespace
}  // namespace hearth::server

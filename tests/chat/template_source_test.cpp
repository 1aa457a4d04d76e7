// Template sources: the GGUF's default and named templates, special-token
// texts, the override file, the ChatML fallback, capabilities, and the
// message normalization a server applies.
#include <filesystem>

#include <gtest/gtest.h>

#include "chat/messages.h"
#include "chat/request.h"
#include "chat/template_source.h"
#include "common/fixtures.h"
#include "gguf/writer.h"

namespace hearth::chat {
namespace {

namespace fs = std::filesystem;

fs::path write_model(const std::string& name, bool with_template) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array({"<unk>", "<s>", "</s>", "hello"}));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  if (with_template) {
    w.set("tokenizer.chat_template", gguf::Value::string("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"));
    w.set("tokenizer.chat_template.tool_use", gguf::Value::string("TOOLS:{{ tools | length }}"));
  }
  fs::path path = fs::temp_directory_path() / name;
  w.write(path.string());
  return path;
}

TEST(TemplateSource, DefaultAndNamedTemplatesFromGguf) {
  fs::path path = write_model("hearth-chat-template-test.gguf", true);
  gguf::File file = gguf::File::open(path.string());
  const auto& md = file.metadata();
  EXPECT_EQ(chat_template_variants(md), std::vector<std::string>{"tool_use"});
  EXPECT_EQ(special_token_text(md, "tokenizer.ggml.bos_token_id"), std::optional<std::string>("<s>"));
  EXPECT_EQ(special_token_text(md, "tokenizer.ggml.eos_token_id"), std::optional<std::string>("</s>"));

  std::vector<std::string> warnings;
  ChatTemplate def = select_chat_template(&md, {}, warnings);
  TemplateInputs inputs;
  inputs.messages = OrderedJson::parse(R"([{"role": "user", "content": "hi"}])");
  inputs.bos_token = "<s>";
  EXPECT_EQ(def.render(inputs), "<s>[user]hi");
  EXPECT_TRUE(warnings.empty());

  ChatTemplate named = select_chat_template(&md, {"", "tool_use"}, warnings);
  inputs.tools = OrderedJson::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(named.render(inputs), "TOOLS:1");
  EXPECT_THROW(select_chat_template(&md, {"", "no_such"}, warnings), hearth::Error);
  fs::remove(path);
}

TEST(TemplateSource, FallsBackToChatmlWithAWarning) {
  fs::path path = write_model("hearth-chat-notemplate-test.gguf", false);
  gguf::File file = gguf::File::open(path.string());
  std::vector<std::string> warnings;
  ChatTemplate t = select_chat_template(&file.metadata(), {}, warnings);
  ASSERT_EQ(warnings.size(), 1u);
  TemplateInputs inputs;
  inputs.messages = OrderedJson::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])");
  inputs.add_generation_prompt = true;
  // ChatML as documented by OpenAI / Qwen.
  EXPECT_EQ(t.render(inputs), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  fs::remove(path);
}

TEST(TemplateSource, OverrideFileAndCapabilities) {
  fs::path gemma = hearth::test::fixture("templates/templates/gemma3-tools-vision.jinja");
  ASSERT_FALSE(gemma.empty());
  std::vector<std::string> warnings;
  ChatTemplate t = select_chat_template(nullptr, {gemma.string(), ""}, warnings);
  EXPECT_TRUE(t.capabilities().tools);
  EXPECT_TRUE(t.capabilities().images);
  EXPECT_THROW(select_chat_template(nullptr, {"/nonexistent/x.jinja", ""}, warnings), hearth::Error);

  auto caps = [](const std::string& name) {
    return detect_capabilities(hearth::test::read_text(hearth::test::fixture("templates/templates/" + name + ".jinja")));
  };
  EXPECT_FALSE(caps("google-gemma-2-2b-it").tools);
  EXPECT_FALSE(caps("google-gemma-2-2b-it").system_role);
  EXPECT_TRUE(caps("Qwen-Qwen3-0.6B").reasoning);
  EXPECT_TRUE(caps("Qwen-Qwen3-0.6B").tools);
  EXPECT_FALSE(caps("Qwen-Qwen2.5-7B-Instruct").reasoning);
  auto opens_think = [](const std::string& name) {
    return ChatTemplate(hearth::test::read_text(hearth::test::fixture("templates/templates/" + name + ".jinja")), name)
        .capabilities()
        .thinking_in_generation_prompt;
  };
  // Expected from the fixtures' renders (01_single_user__gen ends in "<think>\n"
  // for these, and closes the block for R1-Distill without enable_thinking).
  EXPECT_TRUE(opens_think("Qwen3.5-4B"));
  EXPECT_TRUE(opens_think("llama-cpp-deepseek-r1"));
  EXPECT_FALSE(opens_think("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"));
  EXPECT_FALSE(opens_think("Qwen-Qwen2.5-7B-Instruct"));

  // The parser configuration follows the prompt actually rendered.
  ChatTemplate qwen35(hearth::test::read_text(hearth::test::fixture("templates/templates/Qwen3.5-4B.jinja")), "qwen3.5");
  TemplateInputs one_turn;
  one_turn.messages = OrderedJson::parse(R"([{"role": "user", "content": "Hi"}])");
  one_turn.add_generation_prompt = true;
  OutputParserConfig cfg = qwen35.output_config(qwen35.render(one_turn));
  EXPECT_TRUE(cfg.starts_in_reasoning);
  EXPECT_EQ(cfg.format, OutputFormat::Hermes);
}

TEST(Messages, NormalizesLikeAChatServer) {
  OrderedJson in = OrderedJson::parse(R"([
    {"role": "system", "content": ["You are helpful.", "Answer briefly."]},
    {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\", \"days\": 2}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"},
    {"role": "developer", "content": "Use metric units."}
  ])");
  OrderedJson out = normalize_messages(in, NormalizeOptions{});
  EXPECT_EQ(out[0]["content"], "You are helpful.\nAnswer briefly.");
  EXPECT_EQ(out[1]["content"][1], OrderedJson::parse(R"({"type": "image", "url": "data:image/png;base64,AAAA"})"));
  EXPECT_EQ(out[2]["content"], "");
  // The argument string becomes an object, keys in their order.
  EXPECT_EQ(out[2]["tool_calls"][0]["function"]["arguments"].dump(), R"({"location":"Paris","days":2})");
  EXPECT_EQ(out[3]["tool_call_id"], "call_1");
  EXPECT_EQ(out[4]["role"], "system");
  NormalizeOptions keep_developer;
  keep_developer.developer_as_system = false;
  EXPECT_EQ(normalize_messages(in, keep_developer)[4]["role"], "developer");
  EXPECT_TRUE(messages_have_images(in));
  EXPECT_THROW(validate_messages(OrderedJson::parse(R"([{"content": "no role"}])")), hearth::Error);
  EXPECT_THROW(validate_messages(OrderedJson::parse(R"([{"role": "user", "content": 5}])")), hearth::Error);
}

// 05b sends arguments as a JSON string; after normalization the Gemma 3
// template renders them like the dict form of 05a (the fixture's expected).
TEST(Messages, ParsedArgumentsRenderLikeTheDictForm) {
  fs::path root = hearth::test::fixture("templates/manifest.json").parent_path();
  ChatTemplate t(hearth::test::read_text(root / "templates/gemma3-tools-vision.jinja"), "gemma3");
  OrderedJson conv = OrderedJson::parse(hearth::test::read_text(root / "conversations/05b_tool_calls_args_string.json"));
  TemplateInputs inputs;
  inputs.messages = normalize_messages(conv["messages"], NormalizeOptions{});
  inputs.tools = conv["tools"];
  inputs.add_generation_prompt = true;
  inputs.bos_token = "<bos>";
  inputs.eos_token = "<eos>";
  EXPECT_EQ(t.render(inputs), hearth::test::read_text(root / "expected/gemma3-tools-vision__05a_tool_calls_args_dict__gen.txt"));
}

// An OpenAI request body (tools, kwargs, string arguments) renders with
// Qwen3's template as the fixture expects for the same conversation with
// dict arguments and add_generation_prompt.
TEST(Request, OpenAiBodyToTemplateInputs) {
  fs::path root = hearth::test::fixture("templates/manifest.json").parent_path();
  ChatTemplate t(hearth::test::read_text(root / "templates/Qwen-Qwen3-0.6B.jinja"), "qwen3");
  OrderedJson conv = OrderedJson::parse(hearth::test::read_text(root / "conversations/05b_tool_calls_args_string.json"));
  OrderedJson body = {{"model", "qwen3"}, {"messages", conv["messages"]}, {"tools", conv["tools"]}};
  TemplateInputs inputs = template_inputs_from_request(body, t);
  inputs.eos_token = "<|im_end|>";
  EXPECT_TRUE(inputs.add_generation_prompt);
  EXPECT_EQ(t.render(inputs), hearth::test::read_text(root / "expected/Qwen-Qwen3-0.6B__05a_tool_calls_args_dict__gen.txt"));

  body["tools"] = OrderedJson::array();
  body["chat_template_kwargs"] = {{"enable_thinking", false}};
  inputs = template_inputs_from_request(body, t);
  EXPECT_FALSE(inputs.tools.has_value());
  ASSERT_EQ(inputs.extra_variables.size(), 1u);
  EXPECT_EQ(inputs.extra_variables[0].first, "enable_thinking");
  EXPECT_THROW(template_inputs_from_request(OrderedJson{{"tools", 1}}, t), hearth::Error);
}

}  // namespace
}  // namespace hearth::chat

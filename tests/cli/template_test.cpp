// `hearth template render` run as a program on reference cases: the prompt
// must come out byte for byte as Python Jinja2 rendered it, with no newline
// added, and a template error must exit non-zero with the message on stderr.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "gguf/writer.h"

namespace fs = std::filesystem;
using namespace hearth::test;

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path templates_root() { return fixture("templates/manifest.json").parent_path(); }

std::string render_command(const std::string& tmpl, const std::string& conversation, bool gen, const std::string& extra) {
  fs::path root = templates_root();
  return hearth_binary().string() + " template render --template " + quote((root / "templates" / (tmpl + ".jinja")).string()) +
         " --messages " + quote((root / "conversations" / (conversation + ".json")).string()) +
         (gen ? " --add-generation-prompt" : "") + " --now 2026-01-15T10:30:00 " + extra;
}

TEST(TemplateCli, RendersReferenceCasesByteExact) {
  struct Case {
    const char* tmpl;
    const char* conversation;
    bool gen;
    const char* tokens;
  };
  const Case cases[] = {
      {"meta-llama-Llama-3.1-8B-Instruct", "05a_tool_calls_args_dict", true, "--bos-token '<|begin_of_text|>' --eos-token '<|eot_id|>'"},
      {"Qwen-Qwen3-0.6B", "08_reasoning", false, "--eos-token '<|im_end|>'"},
      {"gemma3-tools-vision", "07_consecutive_users", true, "--bos-token '<bos>' --eos-token '<eos>'"},
      {"unsloth-mistral-Devstral-Small-2507", "09_unicode_special", true, "--bos-token '<s>' --eos-token '</s>'"},
  };
  for (const auto& c : cases) {
    std::string suffix = c.gen ? "__gen.txt" : "__nogen.txt";
    std::string expected =
        read_text(templates_root() / "expected" / (std::string(c.tmpl) + "__" + c.conversation + suffix));
    CommandResult r = run_command(render_command(c.tmpl, c.conversation, c.gen, c.tokens));
    EXPECT_EQ(r.status, 0) << c.tmpl;
    EXPECT_EQ(r.out, expected) << c.tmpl << " " << c.conversation;
  }
}

TEST(TemplateCli, RaiseExceptionExitsNonZeroWithTheMessage) {
  fs::path err = fs::temp_directory_path() / "hearth-template-cli-stderr.txt";
  CommandResult r = run_command(render_command("google-gemma-2-2b-it", "02_system_user", true, "--bos-token '<bos>'") +
                                " 2> " + quote(err.string()));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  std::string expected = read_text(templates_root() / "expected/google-gemma-2-2b-it__02_system_user__gen.error.txt");
  EXPECT_NE(read_text(err).find(expected), std::string::npos) << read_text(err);
  fs::remove(err);
}

TEST(TemplateCli, ModelTemplateVariablesAndArrayMessages) {
  hearth::gguf::Writer w;
  w.set("general.architecture", hearth::gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", hearth::gguf::Value::string_array({"<unk>", "<s>", "</s>"}));
  w.set("tokenizer.ggml.bos_token_id", hearth::gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", hearth::gguf::Value::u32(2));
  w.set("tokenizer.chat_template",
        hearth::gguf::Value::string("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"
                                    "{{ tools is none }}|{{ enable_thinking }}|{{ strftime_now('%d %b %Y') }}"));
  fs::path model = fs::temp_directory_path() / "hearth-template-cli.gguf";
  w.write(model.string());
  fs::path messages = fs::temp_directory_path() / "hearth-template-cli-messages.json";
  {
    std::FILE* f = std::fopen(messages.string().c_str(), "w");
    std::fputs(R"([{"role": "user", "content": "Hi"}])", f);
    std::fclose(f);
  }
  CommandResult r = run_command(hearth_binary().string() + " template render --model " + quote(model.string()) +
                                " --messages " + quote(messages.string()) +
                                " --var enable_thinking=false --now 2026-01-15T10:30:00");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "<s><user>Hi</s>True|False|15 Jan 2026");
  fs::remove(model);
  fs::remove(messages);
}

}  // namespace

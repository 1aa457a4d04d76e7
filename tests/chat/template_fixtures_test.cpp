// Renders every (template, conversation, add_generation_prompt) case of the
// reference set and compares with Python Jinja2's output byte for byte. Uses
// the full set in ../shared/fixtures when present, else tests/data's subset.
#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "common/fixtures.h"

namespace hearth::chat {
namespace {

namespace fs = std::filesystem;
using hearth::test::read_text;

struct FixtureSet {
  fs::path root;
  OrderedJson manifest;
};

FixtureSet load_fixture_set() {
  fs::path manifest_path = hearth::test::fixture("templates/manifest.json");
  if (manifest_path.empty()) return {};
  return {manifest_path.parent_path(), OrderedJson::parse(read_text(manifest_path))};
}

TemplateInputs inputs_for(const FixtureSet& set, const OrderedJson& template_info, const std::string& conversation,
                          bool add_generation_prompt, bool tools_undefined) {
  OrderedJson conv = OrderedJson::parse(read_text(set.root / "conversations" / (conversation + ".json")));
  TemplateInputs inputs;
  inputs.messages = conv["messages"];
  if (conv.contains("tools")) inputs.tools = conv["tools"];
  inputs.leave_tools_undefined = tools_undefined;
  inputs.add_generation_prompt = add_generation_prompt;
  if (template_info["bos_token"].is_string()) inputs.bos_token = template_info["bos_token"].get<std::string>();
  if (template_info["eos_token"].is_string()) inputs.eos_token = template_info["eos_token"].get<std::string>();
  inputs.now = jinja::DateTime{2026, 1, 15, 10, 30, 0};
  return inputs;
}

struct Outcome {
  bool ok = false;
  std::string text;       // rendered prompt, or error message
  bool raised = false;    // error came from raise_exception
};

Outcome render_case(const ChatTemplate& tmpl, const TemplateInputs& inputs) {
  Outcome out;
  try {
    out.text = tmpl.render(inputs);
    out.ok = true;
  } catch (const jinja::TemplateError& e) {
    out.text = e.message();
    out.raised = e.kind() == jinja::ErrorKind::Raised;
  }
  return out;
}

TEST(TemplateFixtures, RendersEveryCaseByteExact) {
  FixtureSet set = load_fixture_set();
  ASSERT_FALSE(set.root.empty()) << "no template fixtures found";
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
  int total = 0, passed = 0;
  std::vector<std::string> failures;
  for (const auto& c : set.manifest["cases"]) {
    const std::string name = c["template"];
    const auto& info = set.manifest["templates"][name];
    if (!templates.count(name))
      templates[name] = std::make_unique<ChatTemplate>(read_text(set.root / info["file"].get<std::string>()), name);
    const std::string conv = c["conversation"];
    bool gen = c["add_generation_prompt"];
    Outcome got = render_case(*templates[name], inputs_for(set, info, conv, gen, false));
    std::string id = name + "__" + conv + (gen ? "__gen" : "__nogen");
    ++total;
    std::string expected = read_text(set.root / c["file"].get<std::string>());
    bool good = false;
    if (c["outcome"] == "ok") {
      good = got.ok && got.text == expected;
    } else {
      bool raised_expected = c.value("raised_by", "") == "raise_exception";
      good = !got.ok && (!raised_expected || (got.raised && got.text == expected));
    }
    if (good)
      ++passed;
    else
      failures.push_back(id + (got.ok ? " (rendered)" : " (error: " + got.text.substr(0, 200) + ")"));
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::printf("template fixtures: %d/%d byte-exact (%s set)\n", passed, total,
              hearth::test::have_full_fixtures() ? "full" : "compact");
  EXPECT_EQ(passed, total);
  EXPECT_GT(total, 0);
}

// The cases whose result differs when tools/documents are left undefined
// (llama.cpp's convention) have their own expected files.
TEST(TemplateFixtures, ToolsUndefinedVariants) {
  FixtureSet set = load_fixture_set();
  ASSERT_FALSE(set.root.empty());
  int total = 0, passed = 0;
  for (const auto& c : set.manifest["variant_cases"]) {
    const std::string name = c["template"];
    const auto& info = set.manifest["templates"][name];
    ChatTemplate tmpl(read_text(set.root / info["file"].get<std::string>()), name);
    Outcome got = render_case(tmpl, inputs_for(set, info, c["conversation"], c["add_generation_prompt"], true));
    std::string expected = read_text(set.root / c["file"].get<std::string>());
    bool good = c["outcome"] == "ok" ? (got.ok && got.text == expected) : !got.ok;
    ++total;
    if (good)
      ++passed;
    else
      ADD_FAILURE() << c["file"].get<std::string>() << (got.ok ? " rendered" : " failed: " + got.text);
  }
  EXPECT_EQ(passed, total);
  EXPECT_GT(total, 0);
}

}  // namespace
}  // namespace hearth::chat

// `hearth run` and `hearth logits` as a person runs them.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "gguf/writer.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::test;

namespace {

std::string hearth() { return hearth_binary().string(); }

// llama.cpp's greedy continuation of "Once upon a time" with stories260K, 48
// tokens (issue 4's acceptance text).
constexpr const char* kStoriesGreedy =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red "
    "ball. She wanted to play with it,";

TEST(Run, BundledModelGreedyMatchesLlamaCpp) {
  const auto result = run_command(hearth() + " run -p 'Once upon a time' -n 48 --temp 0 2>/dev/null");
  ASSERT_EQ(result.status, 0);
  EXPECT_EQ(result.out, std::string(kStoriesGreedy) + "\n");
}

TEST(Run, ContinuationKeepsTheSpaceBeforeItsFirstWord) {
  // "there" is followed by the token "▁was": the continuation starts with a space, as llama.cpp prints it.
  const auto result = run_command(hearth() + " run -p 'Once upon a time there' -n 2 --temp 0 2>/dev/null");
  ASSERT_EQ(result.status, 0);
  EXPECT_EQ(result.out, " was a\n");
}

TEST(Run, JsonGivesTokensAndText) {
  const auto result = run_command(hearth() + " run '" + (source_dir() / "models/stories260K.gguf").string() +
                                  "' -p 'Once upon a time' -n 48 --temp 0 --json 2>/dev/null");
  ASSERT_EQ(result.status, 0);
  const json out = json::parse(result.out);
  EXPECT_EQ(out["text"], kStoriesGreedy);
  EXPECT_EQ(out["tokens"].size(), 48u);
}

TEST(Run, GreedyTokensFromAPromptFileMatchTheReference) {
  // reference/stories260K/greedy-p8-n32.json: llama.cpp's 32 greedy tokens (EOS not a stop).
  const fs::path sidecar = fixture("reference/stories260K/greedy-p8-n32.json");
  ASSERT_FALSE(sidecar.empty());
  const json ref = json::parse(read_text(sidecar));
  const fs::path tokens = fs::temp_directory_path() / "hearth_run_prompt.json";
  std::ofstream(tokens) << ref["prompt"].dump();
  const auto result = run_command(hearth() + " run --tokens " + tokens.string() +
                                  " -n 32 --temp 0 --ignore-eos --json 2>/dev/null");
  ASSERT_EQ(result.status, 0);
  EXPECT_EQ(json::parse(result.out)["tokens"], ref["generated"]);
}

TEST(Run, SeedMakesSamplingReproducible) {
  const std::string cmd = hearth() + " run -p 'Once upon a time' -n 24 --temp 0.9 --seed 1234 --json 2>/dev/null";
  const auto a = run_command(cmd);
  const auto b = run_command(cmd);
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  const auto c = run_command(hearth() + " run -p 'Once upon a time' -n 24 --temp 0.9 --seed 99 --json 2>/dev/null");
  EXPECT_NE(json::parse(a.out)["tokens"], json::parse(c.out)["tokens"]);
}

TEST(Run, PromptLongerThanTheContextIsAnErrorWithNumbers) {
  std::string long_prompt;
  for (int i = 0; i < 60; ++i) long_prompt += "Once upon a time ";
  const auto result = run_command(hearth() + " run -p '" + long_prompt + "' --ctx 32 -n 4 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("do not fit in the context"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("of 32"), std::string::npos) << result.out;
}

TEST(Run, QuantizedVCacheWithoutFlashAttentionIsRefused) {
  const auto result = run_command(hearth() + " run -p 'Hi' -n 2 --ctv q8_0 --fa off 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("needs flash attention"), std::string::npos) << result.out;
}

TEST(Run, UnknownArchitectureListsTheSupportedOnes) {
  hearth::gguf::Writer w;
  w.set("general.architecture", hearth::gguf::Value::string("mamba"));
  const fs::path path = fs::temp_directory_path() / "hearth_mamba.gguf";
  w.write(path.string());
  const auto result = run_command(hearth() + " run '" + path.string() + "' -p hi 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("architecture 'mamba' is not supported (supported: llama, mistral, qwen2"),
            std::string::npos)
      << result.out;
}

TEST(Logits, WritesEveryPositionWithinToleranceOfTheReference) {
  const fs::path sidecar = fixture("reference/stories260K/seq64.json");
  ASSERT_FALSE(sidecar.empty());
  const json ref = json::parse(read_text(sidecar));
  const fs::path tokens = fs::temp_directory_path() / "hearth_logits_tokens.json";
  const fs::path out = fs::temp_directory_path() / "hearth_logits.bin";
  std::ofstream(tokens) << ref["tokens"].dump();
  const auto result = run_command(hearth() + " logits '" + (source_dir() / "models/stories260K.gguf").string() +
                                  "' --tokens " + tokens.string() + " --out " + out.string() + " --ctx 512 2>/dev/null");
  ASSERT_EQ(result.status, 0);
  ASSERT_EQ(fs::file_size(out), 64u * 512u * 4u);
  std::vector<float> ours(64 * 512), theirs(64 * 512);
  std::ifstream(out, std::ios::binary).read(reinterpret_cast<char*>(ours.data()), ours.size() * 4);
  std::ifstream(sidecar.parent_path() / "seq64.bin", std::ios::binary)
      .read(reinterpret_cast<char*>(theirs.data()), theirs.size() * 4);
  double max_abs = 0;
  for (size_t i = 0; i < ours.size(); ++i) max_abs = std::max(max_abs, double(std::fabs(ours[i] - theirs[i])));
  EXPECT_LE(max_abs, 0.15);  // the F32/F16 class bound
}

}  // namespace

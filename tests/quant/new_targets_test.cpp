// TQ1_0, TQ2_0 and MXFP4_MOE files from hearth quantize against
// llama-quantize's for the same inputs: byte-identical (both quantizers are
// closed forms), compared by sha256 (tests/data/reference/quantize-new-types.json
// records llama-quantize's files). stories260K is in every checkout (its
// 64-wide rows take the Q4_0 fallback); the synthetic models with whole
// 256-blocks come from ../shared/fixtures.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "quant/quantize_file.h"
#include "quant_test_util.h"

namespace hearth {
namespace {

std::string sha256_of(const std::filesystem::path& path) {
  const auto r = test::run_command("sha256sum '" + path.string() + "'");
  EXPECT_EQ(r.status, 0);
  return r.out.substr(0, 64);
}

void expect_matches_llama_quantize(const std::filesystem::path& input, const std::string& type, const std::string& want) {
  const auto out = test::temp_path(input.stem().string() + "-" + type + ".gguf");
  quant::QuantizeOptions options;
  options.threads = 2;
  quant::quantize_file(input.string(), out.string(), *quant::quant_target_from_name(type), options);
  EXPECT_EQ(sha256_of(out), want) << input.filename() << " " << type;
  std::filesystem::remove(out);
}

nlohmann::json references() {
  const auto path = test::fixture("reference/quantize-new-types.json");
  EXPECT_FALSE(path.empty()) << "tests/data/reference/quantize-new-types.json";
  return nlohmann::json::parse(test::read_text(path));
}

TEST(QuantizeNewTargets, Stories260KMatchesLlamaQuantize) {
  const nlohmann::json ref = references();
  const auto input = test::source_dir() / "models/stories260K.gguf";
  // (MXFP4_MOE would make its 172-wide ffn_down Q8_0, which has no fallback:
  // both programs refuse stories260K.)
  for (const std::string type : {"TQ1_0", "TQ2_0"})
    expect_matches_llama_quantize(input, type, ref["stories260K"][type]);
}

TEST(QuantizeNewTargets, SyntheticModelsMatchLlamaQuantize) {
  if (!test::have_full_fixtures()) GTEST_SKIP() << "needs ../shared/fixtures (the F32/F16 synthetic models)";
  const nlohmann::json ref = references();
  for (const std::string type : {"TQ1_0", "TQ2_0"})
    expect_matches_llama_quantize(test::fixture("models/synth-llama-F32.gguf"), type, ref["synth-llama-F32"][type]);
  expect_matches_llama_quantize(test::fixture("models/synth-qwen3moe-F16.gguf"), "MXFP4_MOE",
                                ref["synth-qwen3moe-F16"]["MXFP4_MOE"]);
}

}  // namespace
}  // namespace hearth

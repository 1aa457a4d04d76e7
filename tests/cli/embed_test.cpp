// `hearth embed` as a person runs it, against the reference vectors.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"

using nlohmann::json;
using namespace hearth::test;

namespace {

TEST(Embed, JsonOutputMatchesTheReferenceAndPlainOutputIsOneLinePerText) {
  const json ref = json::parse(read_text(fixture("reference/embeddings/embeddings.json")));
  const double tolerance = ref["tolerance"]["max_abs"].get<double>();
  const std::string model = fixture("models/synth-nomic-bert-F16.gguf").string();
  const auto r = run_command(hearth_binary().string() + " embed " + model +
                             " --text 'the first one' --text 'this is not my new one' --json 2>/dev/null");
  ASSERT_EQ(r.status, 0);
  const json out = json::parse(r.out);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& item : out) {
    const auto c = std::find_if(ref["cases"].begin(), ref["cases"].end(), [&](const json& c) {
      return c["model"] == "synth-nomic-bert-F16" && c["text"] == item["text"] && c["normalize"] == true;
    });
    ASSERT_NE(c, ref["cases"].end());
    EXPECT_EQ(item["n_tokens"], (*c)["tokens"].size());
    const auto v = item["embedding"].get<std::vector<double>>();
    const auto expected = (*c)["embedding"].get<std::vector<double>>();
    ASSERT_EQ(v.size(), expected.size());
    for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tolerance) << item["text"] << " [" << i << "]";
  }
  const auto plain = run_command(hearth_binary().string() + " embed " + model + " --text 'the first one' --text 'one' 2>/dev/null");
  ASSERT_EQ(plain.status, 0);
  EXPECT_EQ(std::count(plain.out.begin(), plain.out.end(), '\n'), 2);
  const auto refused = run_command(hearth_binary().string() + " embed " + fixture("models/synth-qwen2-Q4_K_M.gguf").string() +
                                   " --text x 2>&1");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.out.find("not an embedding model"), std::string::npos) << refused.out;
}

}  // namespace

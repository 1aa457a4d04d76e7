// Long contexts against llama.cpp (tests/data/long_context, made by
// tests/tools/make_long_context_refs.py): a gemma3 with a 32K trained context
// (a local layer of window 64, a global one with linear rope scaling) at
// 16384 positions with q8_0 and q4_0 K/V caches and flash attention, and a
// llama3-rope-scaled and a YaRN model at 3072 positions, past their original
// context of 256 and their trained 2048. hearth evaluates in micro-batches of
// 512 (its default: the sliding layer's KV is a ring of 575 rows), llama.cpp
// in one batch. The kept rows (every 1024th position and the last four) are
// held to the tolerance rule of fixtures/README.md, class F32/F16 (F16 weights).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const kCases[] = {"long-gemma3-t16384-kvq8_0-fa", "long-gemma3-t16384-kvq4_0-fa", "long-llama3-t3072-f16",
                              "long-yarn-t3072-f16"};

// The generator's token rule (make_long_context_refs.py, tokens_for).
std::vector<int32_t> tokens_for(int64_t n, uint64_t seed) {
  std::vector<int32_t> out = {1};
  uint64_t x = seed;
  while (int64_t(out.size()) < n) {
    x = (x * 1103515245u + 12345u) % (uint64_t(1) << 31);
    out.push_back(int32_t(3 + (x >> 8) % 500));
  }
  return out;
}

std::vector<float> read_floats(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  std::vector<float> v(size_t(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return v;
}

class LongContext : public ::testing::TestWithParam<const char*> {};

TEST_P(LongContext, WithinToleranceOfLlamaCpp) {
  const fs::path sidecar = hearth::test::fixture(std::string("long_context/") + GetParam() + ".json");
  ASSERT_FALSE(sidecar.empty()) << GetParam() << " is missing from tests/data/long_context";
  const json ref = json::parse(hearth::test::read_text(sidecar));
  const json stats = json::parse(hearth::test::read_text(hearth::test::fixture("reference/stats.json")));
  double max_bound = 0, mean_bound = 0, margin_bound = 0;
  for (const auto& c : stats["tolerances"]["classes"])
    if (c["class"] == "F32/F16") max_bound = c["max_abs"], mean_bound = c["mean_abs"], margin_bound = c["top1_margin"];
  ASSERT_GT(max_bound, 0.0);

  const std::vector<float> expected = read_floats(sidecar.parent_path() / std::string(ref["logits_file"]));
  const std::vector<int64_t> rows = ref["rows"];
  const int64_t n_vocab = ref["n_vocab"], n = ref["n_tokens"];
  ASSERT_EQ(int64_t(expected.size()), int64_t(rows.size()) * n_vocab);

  auto file = std::make_shared<const hearth::gguf::File>(
      hearth::gguf::File::open(hearth::test::fixture("long_context/" + std::string(ref["model_file"])).string()));
  auto model = hearth::model::Model::load(file);
  auto backend = hearth::backend::make_cpu_backend(2);
  hearth::runtime::SessionConfig config;
  config.n_ctx = n;
  config.n_ubatch = 512;
  config.type_k = *hearth::dtype_from_name(std::string(ref["options"]["type_k"]));
  config.type_v = *hearth::dtype_from_name(std::string(ref["options"]["type_v"]));
  config.flash_attn = ref["options"]["flash_attn"];
  hearth::runtime::Session session(*model, *backend, config);

  std::vector<float> ours;
  session.eval(tokens_for(n, ref["tokens_seed"]), /*all_logits=*/true, ours);
  double max_abs = 0, sum_abs = 0;
  int argmax_checked = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* a = ours.data() + rows[i] * n_vocab;
    const float* b = expected.data() + int64_t(i) * n_vocab;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double d = std::fabs(double(a[v]) - double(b[v]));
      max_abs = std::max(max_abs, d);
      sum_abs += d;
    }
    if (double(ref["top2_margin"][i]) > margin_bound) {
      EXPECT_EQ(hearth::sampling::argmax(a, n_vocab), int32_t(ref["argmax"][i])) << "position " << rows[i];
      ++argmax_checked;
    }
  }
  const double mean_abs = sum_abs / double(int64_t(rows.size()) * n_vocab);
  EXPECT_LE(max_abs, max_bound);
  EXPECT_LE(mean_abs, mean_bound);
  std::printf("[long context] %-30s max %.5f (<= %.3g) mean %.6f (<= %.3g) argmax rows %d/%zu\n", GetParam(), max_abs,
              max_bound, mean_abs, mean_bound, argmax_checked, rows.size());
}

INSTANTIATE_TEST_SUITE_P(Llamacpp, LongContext, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

}  // namespace

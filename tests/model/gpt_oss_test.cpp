// gpt-oss beyond the one-batch reference cases (reference_test.cpp takes
// those): its hyper-parameters as the synthetic file states them, and both
// engines over more tokens than the sliding window holds. The run session
// evaluates in micro-batches smaller than the window (its sliding layers
// keep a ring of window + micro-batch - 1 rows), the serve engine pages the
// KV and frees sliding blocks as the window moves, with other conversations
// in the same batches; both must stay within llama.cpp's tolerance on its
// logits (reference/synth-gpt-oss-MXFP4, made in one batch with the full
// KV) and agree with each other bitwise.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth;

namespace {

constexpr const char* kModel = "models/synth-gpt-oss-MXFP4.gguf";
constexpr const char* kReference = "reference/synth-gpt-oss-MXFP4";
// The MXFP4 class of tests/data/reference/added-classes.json.
constexpr double kMaxAbs = 4.4, kMeanAbs = 0.11;

struct Loaded {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
};

Loaded load() {
  Loaded l;
  const fs::path path = test::fixture(kModel);
  if (path.empty()) throw std::runtime_error(std::string(kModel) + " is missing from tests/data");
  l.file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  l.model = model::Model::load(l.file);
  l.backend = backend::make_cpu_backend(2);
  return l;
}

struct Reference {
  json sidecar;
  std::vector<float> logits;
};

Reference reference(const std::string& name) {
  const fs::path dir = test::source_dir() / "tests/data" / kReference;
  Reference r;
  r.sidecar = json::parse(test::read_text(dir / (name + ".json")));
  std::ifstream in(dir / (name + ".bin"), std::ios::binary);
  const int64_t n = int64_t(r.sidecar["shape"][0]) * int64_t(r.sidecar["shape"][1]);
  r.logits.resize(size_t(n));
  in.read(reinterpret_cast<char*>(r.logits.data()), std::streamsize(n * sizeof(float)));
  EXPECT_TRUE(in.good()) << name << ".bin is short";
  return r;
}

// Rules 1 and 2 of the tolerance rule over `rows` rows.
void expect_within_tolerance(const std::vector<float>& ours, const std::vector<float>& ref, int64_t rows,
                             int64_t n_vocab, const std::string& what) {
  ASSERT_GE(ours.size(), size_t(rows * n_vocab)) << what;
  double max_abs = 0, sum_abs = 0;
  for (int64_t i = 0; i < rows * n_vocab; ++i) {
    const double d = std::fabs(double(ours[i]) - double(ref[i]));
    max_abs = std::max(max_abs, d);
    sum_abs += d;
  }
  EXPECT_LE(max_abs, kMaxAbs) << what;
  EXPECT_LE(sum_abs / double(rows * n_vocab), kMeanAbs) << what;
  std::printf("[gpt-oss] %-40s max %.5f mean %.6f\n", what.c_str(), max_abs, sum_abs / double(rows * n_vocab));
}

TEST(GptOss, HyperParametersAreThoseOfTheFile) {
  Loaded l = load();
  const model::HParams& hp = l.model->hparams();
  // The synthetic preset (tests/data/reference/README.md): 4 layers, 4 heads
  // of 32 over 2 KV heads, window 32, YaRN factor 32 over 4096 positions.
  EXPECT_EQ(hp.arch, "gpt-oss");
  EXPECT_EQ(hp.n_layer, 4);
  EXPECT_EQ(hp.n_expert, 4);
  EXPECT_EQ(hp.n_expert_used, 2);
  EXPECT_EQ(hp.sliding_window, 32);
  EXPECT_EQ(hp.head_dim_k, 32);
  EXPECT_FLOAT_EQ(hp.rope.freq_scale, 1.0f / 32.0f);
  EXPECT_EQ(hp.rope.ext_factor, 1.0f);
  EXPECT_EQ(hp.rope.n_ctx_orig, 4096);
  for (int l2 = 0; l2 < hp.n_layer; ++l2) {
    EXPECT_EQ(l.model->layer_sliding(l2), l2 % 2 == 0) << "layer " << l2;  // llama.cpp's period 2
    EXPECT_NE(l.model->weights().layers[l2].attn_sinks, nullptr);
    EXPECT_EQ(l.model->weights().layers[l2].gate_exps.type, DType::MXFP4);
  }
}

// 200 tokens in micro-batches of 8: the sliding layers' ring holds 39 rows.
TEST(GptOss, SessionRingPastTheWindowMatchesLlamaCpp) {
  Loaded l = load();
  const Reference ref = reference("seq200");
  const std::vector<int32_t> tokens = ref.sidecar["tokens"];
  const int64_t n_vocab = ref.sidecar["n_vocab"];
  runtime::SessionConfig ring_config;
  ring_config.n_ctx = 512;
  ring_config.n_ubatch = 8;
  runtime::Session ring(*l.model, *l.backend, ring_config);
  EXPECT_EQ(ring.sliding_rows(), 32 + 8 - 1);
  std::vector<float> ours;
  ring.eval(tokens, /*all_logits=*/true, ours);
  expect_within_tolerance(ours, ref.logits, int64_t(tokens.size()), n_vocab, "session ubatch 8, seq200");

  runtime::SessionConfig full_config = ring_config;
  full_config.n_ubatch = 512;
  runtime::Session full(*l.model, *l.backend, full_config);
  std::vector<float> whole;
  full.eval(tokens, true, whole);
  EXPECT_EQ(ours, whole) << "the ring changed the logits";
}

// Slot 0 prefills 64 tokens (twice the window) in steps of 16 among two
// other conversations, then decodes greedily: its logits equal a lone
// Session's bitwise, and its first row is llama.cpp's within tolerance.
TEST(GptOss, BatchEngineAmongOtherSlotsEqualsTheSession) {
  Loaded l = load();
  const Reference ref = reference("seq64");
  const std::vector<int32_t> prompt = ref.sidecar["tokens"];
  const int64_t n_vocab = ref.sidecar["n_vocab"];

  runtime::SessionConfig session_config;
  session_config.n_ctx = 128;
  runtime::Session session(*l.model, *l.backend, session_config);
  std::vector<float> expected_logits;
  session.eval(prompt, true, expected_logits);
  expect_within_tolerance(expected_logits, ref.logits, int64_t(prompt.size()), n_vocab, "session seq64");
  std::vector<std::vector<float>> expected = {
      std::vector<float>(expected_logits.end() - n_vocab, expected_logits.end())};
  for (int s = 1; s < 16; ++s) {
    const float* step = session.decode(sampling::argmax(expected.back().data(), n_vocab));
    expected.emplace_back(step, step + n_vocab);
  }

  runtime::BatchEngineConfig config;
  config.n_slots = 3;
  config.n_ctx_per_slot = 128;
  config.n_batch = 40;
  runtime::BatchEngine engine(*l.model, *l.backend, config);
  const std::vector<int32_t> other = {1, 5, 6, 300, 42, 17, 99, 128, 256, 7, 11, 13};
  std::vector<float> logits;
  std::vector<float> row;
  for (size_t at = 0; at < prompt.size(); at += 16) {
    const bool last = at + 16 >= prompt.size();
    std::vector<runtime::SlotInput> in = {{0, std::span(prompt).subspan(at, 16), last},
                                          {1, std::span(other).subspan(at % 8, 3), true}};
    if (at % 32 == 0) in.push_back({2, std::span(other).first(2), false});
    engine.step(in, logits);
    if (last) row.assign(logits.begin(), logits.begin() + n_vocab);
  }
  ASSERT_EQ(row, expected[0]);
  for (int s = 1; s < 16; ++s) {
    const int32_t next = sampling::argmax(row.data(), n_vocab);
    const int32_t filler = int32_t(20 + s);
    std::vector<runtime::SlotInput> in = {{1, std::span(&filler, 1), s % 2 == 0}, {0, std::span(&next, 1), true}};
    engine.step(in, logits);
    // Rows come in input order, one per slot that wants logits.
    row.assign(logits.end() - n_vocab, logits.end());
    ASSERT_EQ(row, expected[s]) << "step " << s;
  }
  EXPECT_LT(engine.sliding_blocks_held(0), 128 / config.kv_block_size) << "the window's blocks were not given back";
}

}  // namespace

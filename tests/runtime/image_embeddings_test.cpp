// Image tokens in the language model: rows given as embeddings, attending
// to the whole image (gemma3). The multi-slot engine (the server's path,
// image tokens keyed by negative ids, beside another conversation) must
// give what a single session gives (`hearth run --image`'s path), and the
// whole-image attention must actually differ from causal attention.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"

using namespace hearth;
using namespace hearth::runtime;

namespace {

struct Fixture {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
  std::vector<float> image;  // [kImageTokens][n_embd]
};

constexpr int64_t kImageTokens = 40;
const std::vector<int32_t> kBefore = {1, 1, 410, 478, 33};
const std::vector<int32_t> kAfter = {392, 200, 17, 301};

Fixture load() {
  Fixture f;
  const auto path = test::fixture("models/tiny-gemma3-vision-lm.gguf");
  EXPECT_FALSE(path.empty());
  f.file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  f.model = model::Model::load(f.file);
  f.backend = backend::make_cpu_backend(2);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  f.image.resize(size_t(kImageTokens * f.model->hparams().n_embd));
  for (float& v : f.image) v = dist(rng);
  return f;
}

std::vector<float> session_logits(Fixture& f, bool whole_image) {
  SessionConfig config;
  config.n_ctx = 256;
  Session s(*f.model, *f.backend, config);
  std::vector<float> logits;
  s.eval(kBefore, false, logits);
  s.eval_embeddings(f.image.data(), kImageTokens, whole_image);
  s.eval(kAfter, false, logits);
  return logits;
}

TEST(ImageEmbeddings, BatchEngineMatchesSession) {
  Fixture f = load();
  const std::vector<float> want = session_logits(f, true);
  const int64_t E = f.model->hparams().n_embd;

  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 256;
  config.n_batch = 64;
  BatchEngine engine(*f.model, *f.backend, config);
  std::vector<int32_t> keys(kImageTokens), last(kImageTokens);
  std::vector<const float*> rows(kImageTokens);
  const int32_t start = int32_t(kBefore.size());
  for (int64_t t = 0; t < kImageTokens; ++t) {
    keys[size_t(t)] = -1000 - int32_t(t);
    rows[size_t(t)] = f.image.data() + t * E;
    last[size_t(t)] = start + int32_t(kImageTokens) - 1;
  }
  std::vector<float> logits;
  const std::vector<int32_t> other = {1, 5, 6, 7, 8, 9};
  // Slot 1 runs another conversation in the same steps.
  std::vector<SlotInput> in = {{0, kBefore, false}, {1, other, false}};
  engine.step(in, logits);
  in = {{0, keys, false, rows.data(), last.data()}, {1, std::span<const int32_t>(&other[1], 1), true}};
  engine.step(in, logits);
  in = {{0, kAfter, true}};
  engine.step(in, logits);
  ASSERT_EQ(logits.size(), want.size());
  double max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(logits[i] - want[i])));
  EXPECT_LT(max_diff, 1e-3);

  // The image's cache keys are ordinary prefix-cache tokens: a new
  // conversation with the same image reuses them.
  std::vector<int32_t> prompt = kBefore;
  prompt.insert(prompt.end(), keys.begin(), keys.end());
  prompt.insert(prompt.end(), kAfter.begin(), kAfter.end());
  engine.release(0);
  EXPECT_GE(engine.cached_prefix(prompt), int64_t(kBefore.size()) + kImageTokens - 16);

  // Negative ids without embeddings are refused, naming the id.
  in = {{0, keys, false}};
  EXPECT_THROW(engine.step(in, logits), std::exception);
}

TEST(ImageEmbeddings, WholeImageAttentionDiffersFromCausal) {
  Fixture f = load();
  const std::vector<float> whole = session_logits(f, true);
  const std::vector<float> causal = session_logits(f, false);
  double diff = 0;
  for (size_t i = 0; i < whole.size(); ++i) diff = std::max(diff, double(std::fabs(whole[i] - causal[i])));
  EXPECT_GT(diff, 1e-3);
}

TEST(ImageEmbeddings, AnImageLargerThanTheMicroBatchIsAnError) {
  Fixture f = load();
  SessionConfig config;
  config.n_ctx = 256;
  config.n_ubatch = 16;
  Session s(*f.model, *f.backend, config);
  try {
    s.eval_embeddings(f.image.data(), kImageTokens, true);
    ADD_FAILURE() << "an image over --ubatch was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--ubatch"), std::string::npos) << e.what();
  }
}

}  // namespace

// The multi-slot engine: a sequence's logits must not depend on what else is
// in the batch (bitwise), copied prefixes must continue exactly like a
// sequence computed in place, and overflow must be an error with numbers.
#include <memory>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

using namespace hearth;
using namespace hearth::runtime;

namespace {

struct Loaded {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
};

Loaded load(const std::string& relative) {
  Loaded l;
  std::filesystem::path path = hearth::test::fixture(relative);
  if (path.empty()) path = hearth::test::source_dir() / relative;
  l.file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  l.model = model::Model::load(l.file);
  l.backend = backend::make_cpu_backend(2);
  return l;
}

const std::vector<int32_t> kPromptA = {1, 410, 478, 33, 392, 200, 17, 301, 99, 45, 12};
const std::vector<int32_t> kPromptB = {1, 77, 88, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112};
const std::vector<int32_t> kPromptC = {1, 5, 6};

// Greedy-decodes `steps` tokens for slot 0, returning every step's logits.
std::vector<std::vector<float>> greedy_alone(BatchEngine& engine, int steps) {
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  std::vector<SlotInput> in = {{0, kPromptA, true}};
  engine.step(in, logits);
  out.push_back(logits);
  for (int s = 1; s < steps; ++s) {
    const int32_t next = sampling::argmax(logits.data(), engine.n_vocab());
    in = {{0, std::span<const int32_t>(&next, 1), true}};
    engine.step(in, logits);
    out.push_back(logits);
  }
  return out;
}

TEST(BatchEngine, ASequenceIsBitwiseIndependentOfItsBatchmates) {
  for (const char* model : {"models/stories260K.gguf", "models/synth-qwen2-Q4_K_M.gguf", "models/synth-gemma3-Q4_K_M.gguf"}) {
    SCOPED_TRACE(model);
    Loaded l = load(model);
    BatchEngineConfig config;
    config.n_slots = 3;
    config.n_ctx_per_slot = 128;
    config.n_batch = 64;
    BatchEngine alone(*l.model, *l.backend, config);
    const auto expected = greedy_alone(alone, 12);

    BatchEngine busy(*l.model, *l.backend, config);
    std::vector<float> logits;
    // Slot 1 is mid-prefill and slot 2 decodes alongside; slot 0 joins late.
    std::vector<SlotInput> warm = {{1, std::span(kPromptB).first(9), false}, {2, kPromptC, true}};
    busy.step(warm, logits);
    std::vector<int32_t> other = {int32_t(sampling::argmax(logits.data(), busy.n_vocab()))};
    std::vector<SlotInput> first = {{2, other, true}, {0, kPromptA, true}, {1, std::span(kPromptB).subspan(9), true}};
    busy.step(first, logits);
    std::vector<float> row0(logits.begin() + busy.n_vocab(), logits.begin() + 2 * busy.n_vocab());
    ASSERT_EQ(row0, expected[0]);
    for (int s = 1; s < 12; ++s) {
      const int32_t next = sampling::argmax(row0.data(), busy.n_vocab());
      const int32_t filler = int32_t(3 + s);
      std::vector<SlotInput> in = {{1, std::span(&filler, 1), false}, {0, std::span(&next, 1), true}};
      if (s % 3 == 0) in.push_back({2, std::span(&filler, 1), true});
      busy.step(in, logits);
      row0.assign(logits.begin(), logits.begin() + busy.n_vocab());
      ASSERT_EQ(row0, expected[s]) << "step " << s;
    }
  }
}

TEST(BatchEngine, MatchesTheSingleSequenceSession) {
  Loaded l = load("models/stories260K.gguf");
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 64;
  BatchEngine engine(*l.model, *l.backend, config);
  SessionConfig session_config;
  session_config.n_ctx = 64;
  Session session(*l.model, *l.backend, session_config);
  std::vector<float> a, b;
  std::vector<SlotInput> in = {{1, kPromptA, true}};
  engine.step(in, a);
  session.eval(kPromptA, false, b);
  EXPECT_EQ(a, b);
}

TEST(BatchEngine, CopiedPrefixContinuesLikeTheOriginal) {
  Loaded l = load("models/stories260K.gguf");
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 64;
  BatchEngine engine(*l.model, *l.backend, config);
  std::vector<float> direct, copied;
  std::vector<SlotInput> in = {{0, kPromptB, true}};
  engine.step(in, direct);
  engine.truncate(0, 9);
  engine.copy_prefix(0, 1, 9);
  EXPECT_EQ(engine.slot_length(1), 9);
  std::vector<SlotInput> rest = {{1, std::span(kPromptB).subspan(9), true}};
  engine.step(rest, copied);
  EXPECT_EQ(copied, direct);
}

TEST(BatchEngine, OverflowIsAnErrorWithNumbers) {
  Loaded l = load("models/stories260K.gguf");
  BatchEngineConfig config;
  config.n_slots = 1;
  config.n_ctx_per_slot = 8;
  BatchEngine engine(*l.model, *l.backend, config);
  std::vector<float> logits;
  std::vector<SlotInput> in = {{0, kPromptA, true}};
  try {
    engine.step(in, logits);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("11 tokens do not fit in the context: 0 already used of 8"), std::string::npos)
        << e.what();
  }
  std::vector<SlotInput> bad = {{3, kPromptC, true}};
  EXPECT_THROW(engine.step(bad, logits), Error);
}

}  // namespace

namespace {

TEST(Session, MicroBatchesGiveTheSameLogitsAsOnePass) {
  for (const char* model : {"models/stories260K.gguf", "models/synth-gemma3-Q4_K_M.gguf"}) {
    SCOPED_TRACE(model);
    Loaded l = load(model);
    std::vector<int32_t> tokens = kPromptB;
    tokens.insert(tokens.end(), kPromptA.begin(), kPromptA.end());  // 28 tokens
    SessionConfig one_pass, micro;
    one_pass.n_ctx = micro.n_ctx = 64;
    micro.n_ubatch = 5;
    Session a(*l.model, *l.backend, one_pass);
    Session b(*l.model, *l.backend, micro);
    std::vector<float> la, lb;
    a.eval(tokens, true, la);
    b.eval(tokens, true, lb);
    EXPECT_EQ(la, lb);
  }
}

}  // namespace

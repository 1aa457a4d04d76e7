// The multi-slot engine: a sequence's logits must not depend on what else is
// in the batch (bitwise), a prefix taken from the cache (computed by another
// conversation) must continue exactly like a sequence computed in place, and
// overflow must be an error with numbers.
#include <memory>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "common/batch_invariance.h"
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

using test::greedy_alone;
using test::kPromptA;
using test::kPromptB;
using test::kPromptC;

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
    ASSERT_NO_FATAL_FAILURE(test::expect_alone_rows_among_batchmates(busy, expected));
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

// The server's engine multiplies the backend's packed layouts, as Session
// does (it once used the file's layout, at half the decode speed), and its
// logits on a K-quant model equal the single-sequence session's bitwise.
TEST(BatchEngine, UsesThePackedWeightsLikeTheSession) {
  Loaded l = load("models/synth-qwen2-Q4_K_M.gguf");
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 64;
  BatchEngine engine(*l.model, *l.backend, config);
  int packed = 0, packable = 0;
  for (const model::Layer& layer : l.model->weights().layers)
    for (const backend::Weight* w : {&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.ffn_gate, &layer.ffn_up, &layer.ffn_down}) {
      if (w->empty() || w->n_out < 8) continue;
      const bool has_layout = w->type == DType::Q4_K || w->type == DType::Q5_K || w->type == DType::Q6_K ||
                              w->type == DType::Q4_0 || w->type == DType::Q8_0;
      packable += has_layout;
      packed += has_layout && w->packed != nullptr;
    }
  ASSERT_GT(packable, 0);
  EXPECT_EQ(packed, packable);
  SessionConfig session_config;
  session_config.n_ctx = 64;
  Session session(*l.model, *l.backend, session_config);
  std::vector<float> a, b;
  std::vector<SlotInput> in = {{1, kPromptA, true}};
  engine.step(in, a);
  session.eval(kPromptA, false, b);
  EXPECT_EQ(a, b);
}

std::vector<int32_t> some_tokens(int n, int seed) {
  std::vector<int32_t> t = {1};
  for (int i = 1; i < n; ++i) t.push_back(int32_t((i * 37 + seed * 101) % 400 + 5));
  return t;
}

// Evaluates the rest of `prompt` on `slot` (from what the slot holds), then
// greedy-decodes; every step's logits.
std::vector<std::vector<float>> continue_greedy(BatchEngine& engine, int slot, const std::vector<int32_t>& prompt,
                                                int steps, int busy_slot = -1) {
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  const auto rest = std::span(prompt).subspan(size_t(engine.slot_length(slot)));
  const std::vector<int32_t> filler = some_tokens(3, 9);
  std::vector<SlotInput> in = {{slot, rest, true}};
  if (busy_slot >= 0) in.push_back({busy_slot, std::span(filler).subspan(1, 1), false});
  engine.step(in, logits);
  for (int s = 0;; ++s) {
    out.emplace_back(logits.begin(), logits.begin() + engine.n_vocab());
    if (s + 1 == steps) return out;
    const int32_t next = sampling::argmax(out.back().data(), engine.n_vocab());
    in = {{slot, std::span(&next, 1), true}};
    if (busy_slot >= 0 && s % 2 == 0) in.push_back({busy_slot, std::span(filler).subspan(2, 1), false});
    engine.step(in, logits);
  }
}

// Conversation a runs on slot 0 and ends; conversation b, another prompt that
// shares a's first 53 tokens (3 whole blocks of 16 and 5 rows of a fourth),
// starts on slot 2 from the cache while slot 1 is busy. Its logits equal a
// fresh engine's bitwise, and on gemma3 (sliding window 32) it runs well past
// the window. (a ends at 62, so on gemma3 the window kept before its end,
// blocks 1-3, covers the window before 53; see sliding_window_test.cpp for
// the cases where it does not.)
TEST(BatchEngine, APrefixCachedByAnotherConversationContinuesBitwise) {
  for (const char* model : {"models/stories260K.gguf", "models/synth-gemma3-Q4_K_M.gguf"}) {
    SCOPED_TRACE(model);
    Loaded l = load(model);
    BatchEngineConfig config;
    config.n_slots = 3;
    config.n_ctx_per_slot = 128;
    config.n_batch = 96;
    const std::vector<int32_t> a = some_tokens(57, 1);
    std::vector<int32_t> b(a.begin(), a.begin() + 53);
    for (int32_t t : some_tokens(31, 2)) b.push_back(t + 1);

    BatchEngine fresh(*l.model, *l.backend, config);
    const auto expected = continue_greedy(fresh, 0, b, 10);

    BatchEngine engine(*l.model, *l.backend, config);
    EXPECT_EQ(engine.cached_prefix(b), 0);
    continue_greedy(engine, 0, a, 6);
    engine.release(0);
    EXPECT_EQ(engine.slot_length(0), 0);
    ASSERT_EQ(engine.cached_prefix(b), 53);
    std::vector<float> ignored;
    std::vector<SlotInput> warm = {{1, std::span(a).first(20), false}};
    engine.step(warm, ignored);  // slot 1 shares the first block of a (and caches its own copy of it)
    engine.start_from_cache(2, b, 53);
    EXPECT_EQ(engine.slot_length(2), 53);
    const auto got = continue_greedy(engine, 2, b, 10, /*busy_slot=*/1);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t s = 0; s < got.size(); ++s) ASSERT_EQ(got[s], expected[s]) << "step " << s;

    // The same prompt again: all but its last token come from the cache
    // (here up to the middle of a block that is still slot 2's own).
    engine.release(2);
    const std::vector<int32_t> again(b.begin(), b.begin() + 60);
    EXPECT_EQ(engine.cached_prefix(again), 59);
    engine.start_from_cache(0, again, 59);
    BatchEngine fresh2(*l.model, *l.backend, config);
    EXPECT_EQ(continue_greedy(engine, 0, again, 3), continue_greedy(fresh2, 0, again, 3));
  }
}

// With no memory beyond the slots' contexts, a cache full of finished
// conversations gives way: two slots then fill their whole contexts.
TEST(BatchEngine, CachedConversationsAreEvictedWhenSlotsNeedRoom) {
  Loaded l = load("models/stories260K.gguf");
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 64;
  config.n_batch = 128;
  BatchEngine engine(*l.model, *l.backend, config);
  EXPECT_EQ(engine.blocks().n_blocks(), 2 * 4 + 1);
  std::vector<float> logits;
  for (int seed = 0; seed < 4; ++seed) {
    const std::vector<int32_t> t = some_tokens(40, 10 + seed);
    std::vector<SlotInput> in = {{seed % 2, t, true}};
    engine.step(in, logits);
    engine.release(seed % 2);
  }
  EXPECT_GT(engine.prefix_cache().cached_blocks(), 4);
  const std::vector<int32_t> x = some_tokens(64, 20), y = some_tokens(64, 21);
  std::vector<SlotInput> in = {{0, x, true}, {1, y, true}};
  engine.step(in, logits);
  BatchEngine fresh(*l.model, *l.backend, config);
  std::vector<float> expected;
  std::vector<SlotInput> alone = {{1, y, true}};
  fresh.step(alone, expected);
  EXPECT_EQ(std::vector<float>(logits.begin() + engine.n_vocab(), logits.end()), expected);
  // Only the spare block is left over (free, or a cached one that may go).
  EXPECT_EQ(engine.blocks().n_free() + engine.prefix_cache().evictable_blocks(), 1);
  engine.release(0, /*keep_in_cache=*/false);
  engine.release(1, /*keep_in_cache=*/false);
  EXPECT_EQ(engine.blocks().n_free() + engine.prefix_cache().evictable_blocks(), engine.blocks().n_blocks());
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

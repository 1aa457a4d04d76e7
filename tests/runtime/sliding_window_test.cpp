// Sliding-window KV: the sliding layers of gemma3 (synth-gemma3: 6 layers,
// layers 0-4 local with window 32, layer 5 global; one KV head of 64) keep
// only their window, in the single-sequence session (a ring) and in the
// batch engine (paged blocks given back as the window moves), with the KV
// bytes the per-layer formula gives; and the prefix cache, which keeps only
// the window before each resumable point on those layers, stays bitwise
// exact: multi-turn, branching, and under memory pressure.
#include <memory>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

using namespace hearth;
using namespace hearth::runtime;

namespace {

constexpr const char* kGemma3 = "models/synth-gemma3-Q4_K_M.gguf";
constexpr int kWindow = 32;
// synth-gemma3 (fixtures' models/README.md): llama.cpp's gemma3 pattern, il % 6 < 5 local.
constexpr bool kLocal[6] = {true, true, true, true, true, false};
constexpr uint64_t kF16RowBytes = 64 * 2;  // one KV head of 64, K or V

struct Loaded {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
};

Loaded load(const std::string& relative) {
  Loaded l;
  std::filesystem::path path = hearth::test::fixture(relative);
  l.file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  l.model = model::Model::load(l.file);
  l.backend = backend::make_cpu_backend(2);
  return l;
}

// f16 K and V bytes of a cache whose global layers hold global_rows rows and
// local ones local_rows.
uint64_t formula_bytes(int64_t global_rows, int64_t local_rows) {
  uint64_t total = 0;
  for (bool local : kLocal) total += uint64_t(local ? local_rows : global_rows) * 2 * kF16RowBytes;
  return total;
}

std::vector<int32_t> some_tokens(int n, int seed) {
  std::vector<int32_t> t = {1};
  for (int i = 1; i < n; ++i) t.push_back(int32_t((i * 37 + seed * 101 + (i * i) % 13) % 500 + 5));
  return t;
}

// A 4K context; 1500 tokens evaluated (the ring of 287 rows wraps five
// times) against the same session without a ring.
TEST(SlidingWindowKv, A4kSessionHoldsTheWindowOnLocalLayersAndGivesTheFullKvLogits) {
  Loaded l = load(kGemma3);
  ASSERT_EQ(l.model->hparams().sliding_window, kWindow);
  for (int layer = 0; layer < 6; ++layer) EXPECT_EQ(l.model->layer_sliding(layer), kLocal[layer]);
  const std::vector<int32_t> tokens = some_tokens(1500, 3);

  SessionConfig ring_config;
  ring_config.n_ctx = 4096;
  ring_config.n_ubatch = 256;
  Session ring(*l.model, *l.backend, ring_config);
  // Local layers: a ring of window + micro-batch - 1 rows; the global layer every position.
  EXPECT_EQ(ring.sliding_rows(), kWindow + 256 - 1);
  EXPECT_EQ(ring.kv_bytes(), formula_bytes(4096, kWindow + 256 - 1));
  EXPECT_EQ(ring.kv_bytes(), 6291456u / 6 + 5 * 287 * 256u);

  // One micro-batch of the whole context: no ring, every layer every position.
  SessionConfig full_config = ring_config;
  full_config.n_ubatch = 4096;
  Session full(*l.model, *l.backend, full_config);
  EXPECT_EQ(full.sliding_rows(), 4096);
  EXPECT_EQ(full.kv_bytes(), formula_bytes(4096, 4096));

  std::vector<float> a, b;
  ring.eval(tokens, true, a);
  full.eval(tokens, true, b);
  ASSERT_EQ(a.size(), b.size());
  const size_t n_vocab = size_t(l.model->hparams().n_vocab);
  for (size_t row = 0; row < tokens.size(); row += 97)
    ASSERT_TRUE(std::equal(a.begin() + row * n_vocab, a.begin() + (row + 1) * n_vocab, b.begin() + row * n_vocab))
        << "row " << row;
  ASSERT_TRUE(std::equal(a.end() - n_vocab, a.end(), b.end() - n_vocab));
}

// A chat turn truncates the session to what the next prompt shares with it.
// In a ring (window 32 + micro-batch 8 - 1 = 39 rows) the window before the
// cut survives only a short way back: there truncate keeps the tokens and the
// re-evaluated tail equals the first pass bitwise; further back it keeps
// nothing, so the caller evaluates everything again instead of attending to
// overwritten keys.
TEST(SlidingWindowKv, TruncateKeepsOnlyWhatTheRingStillHolds) {
  Loaded l = load(kGemma3);
  const std::vector<int32_t> tokens = some_tokens(100, 5);
  SessionConfig config;
  config.n_ctx = 256;
  config.n_ubatch = 8;
  Session session(*l.model, *l.backend, config);
  ASSERT_EQ(session.sliding_rows(), kWindow + 8 - 1);
  std::vector<float> first, again;
  session.eval(tokens, true, first);
  const size_t n_vocab = size_t(l.model->hparams().n_vocab);

  // Back 5 tokens: keys 64..94 are needed and positions 61..99 are held.
  ASSERT_EQ(session.truncate(95), 95);
  session.eval(std::span<const int32_t>(tokens).subspan(95), true, again);
  ASSERT_EQ(again.size(), 5 * n_vocab);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), first.end() - 5 * n_vocab));

  // Back 50: keys 19..49 were overwritten by positions 58..99.
  EXPECT_EQ(session.truncate(50), 0);
  EXPECT_EQ(session.n_past(), 0);
}

TEST(SlidingWindowKv, TheBatchEnginesPoolsFollowThePerLayerFormula) {
  Loaded l = load(kGemma3);
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 4096;
  config.n_batch = 256;
  BatchEngine engine(*l.model, *l.backend, config);
  // Global: every slot's context, plus the copy block. Local: per slot the
  // window before a step, a block of slack and the step's tokens, unaligned:
  // (32 + 256 - 2) / 16 + 3.
  const int64_t global_blocks = 2 * (4096 / 16) + 1, local_per_slot = 286 / 16 + 3;
  EXPECT_EQ(engine.sliding_blocks_per_slot(), local_per_slot);
  EXPECT_EQ(engine.blocks().n_blocks(), global_blocks);
  EXPECT_EQ(engine.sliding_blocks().n_blocks(), 2 * local_per_slot + 1);
  EXPECT_EQ(engine.kv_bytes(), formula_bytes(global_blocks * 16, (2 * local_per_slot + 1) * 16));
  EXPECT_EQ(engine.kv_bytes_per_slot(), formula_bytes(4096, local_per_slot * 16));

  // A slot holds the local blocks its next query sees, whatever its length.
  const std::vector<int32_t> tokens = some_tokens(700, 5);
  std::vector<float> logits;
  int64_t at = 0;
  for (int64_t count : {1, 255, 16, 100, 3, 256, 69}) {
    std::vector<SlotInput> in = {{1, std::span(tokens).subspan(size_t(at), size_t(count)), true}};
    engine.step(in, logits);
    at += count;
    const int64_t first = std::max<int64_t>(0, at - kWindow + 1 - 16) / 16, blocks = (at + 15) / 16;
    EXPECT_EQ(engine.sliding_blocks_held(1), blocks - first) << "at " << at;
  }
  // What the slot leaves is free, or cached and evictable: on local layers
  // only the window it offered last (blocks 41-43 of 700 tokens).
  engine.release(1, /*keep_in_cache=*/false);
  EXPECT_EQ(engine.prefix_cache().cached_sliding_blocks(), 3);
  EXPECT_EQ(engine.sliding_blocks().n_free() + engine.prefix_cache().evictable_sliding_blocks(),
            engine.sliding_blocks().n_blocks());
  EXPECT_EQ(engine.blocks().n_free() + engine.prefix_cache().evictable_blocks(), engine.blocks().n_blocks());
}

// Evaluates the rest of `prompt` on `slot` (after what it holds), then
// greedy-decodes; returns every step's logits and appends the generated
// tokens to `history` when given.
std::vector<std::vector<float>> continue_greedy(BatchEngine& engine, int slot, const std::vector<int32_t>& prompt,
                                                int steps, std::vector<int32_t>* history = nullptr) {
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  std::vector<SlotInput> in;
  while (engine.slot_length(slot) < int64_t(prompt.size())) {  // in steps of at most n_batch
    const int64_t at = engine.slot_length(slot);
    const int64_t count = std::min<int64_t>(engine.n_batch(), int64_t(prompt.size()) - at);
    in = {{slot, std::span(prompt).subspan(size_t(at), size_t(count)), true}};
    engine.step(in, logits);
  }
  for (int s = 0;; ++s) {
    out.emplace_back(logits.begin(), logits.begin() + engine.n_vocab());
    if (s + 1 == steps) return out;
    const int32_t next = int32_t(sampling::argmax(out.back().data(), engine.n_vocab()));
    if (history) history->push_back(next);
    in = {{slot, std::span(&next, 1), true}};
    engine.step(in, logits);
  }
}

// What a cold engine computes for `prompt` and `steps` greedy tokens.
std::vector<std::vector<float>> cold(const Loaded& l, const BatchEngineConfig& config,
                                     const std::vector<int32_t>& prompt, int steps) {
  BatchEngine fresh(*l.model, *l.backend, config);
  return continue_greedy(fresh, 0, prompt, steps);
}

// Starts `slot` from the cache (as the server does) and continues; checks the
// result against a cold run. Returns the tokens taken from the cache.
int64_t resume_and_check(const Loaded& l, const BatchEngineConfig& config, BatchEngine& engine, int slot,
                         const std::vector<int32_t>& prompt, int steps, std::vector<int32_t>* history = nullptr) {
  const int64_t reuse = engine.cached_prefix(prompt);
  engine.start_from_cache(slot, prompt, reuse);
  EXPECT_EQ(engine.slot_length(slot), reuse);
  const auto got = continue_greedy(engine, slot, prompt, steps, history);
  const auto expected = cold(l, config, prompt, steps);
  EXPECT_EQ(got.size(), expected.size());
  for (size_t s = 0; s < got.size() && s < expected.size(); ++s) EXPECT_EQ(got[s], expected[s]) << "step " << s;
  return reuse;
}

TEST(SlidingWindowPrefixCache, AMultiTurnChatResumesAtTheEndOfEachTurnBitwise) {
  Loaded l = load(kGemma3);
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 512;
  config.n_batch = 64;
  BatchEngine engine(*l.model, *l.backend, config);
  std::vector<int32_t> chat = some_tokens(90, 1);
  for (int turn = 0; turn < 4; ++turn) {
    SCOPED_TRACE(turn);
    // Cached: everything but the last generated token, whose KV is computed
    // with the next turn. In turn 2 the end of the reply comes back otherwise
    // (as a chat template may re-render it): it resumes 5 tokens before the end.
    int64_t previous_end = turn == 0 ? 0 : int64_t(chat.size()) - 1;
    if (turn == 2) {
      chat.resize(chat.size() - 5);
      previous_end = int64_t(chat.size());
      chat.push_back(3);
    }
    if (turn > 0) {
      // The user's next message (long enough to move the window on).
      for (int32_t t : some_tokens(23 + 17 * turn, 10 + turn)) chat.push_back(t + 1);
    }
    std::vector<int32_t> generated;
    // Prefill in micro-batches of the engine's size, then decode 9 tokens.
    const int64_t reuse = engine.cached_prefix(chat);
    engine.start_from_cache(turn % 2, chat, reuse);
    EXPECT_EQ(reuse, previous_end);  // the whole previous conversation, generated tokens included
    std::vector<float> logits;
    while (engine.slot_length(turn % 2) < int64_t(chat.size())) {
      const int64_t at = engine.slot_length(turn % 2);
      const int64_t count = std::min<int64_t>(64, int64_t(chat.size()) - at);
      std::vector<SlotInput> in = {{turn % 2, std::span(chat).subspan(size_t(at), size_t(count)), true}};
      engine.step(in, logits);
    }
    std::vector<std::vector<float>> got = {logits};
    for (int s = 1; s < 9; ++s) {
      const int32_t next = int32_t(sampling::argmax(got.back().data(), engine.n_vocab()));
      generated.push_back(next);
      std::vector<SlotInput> in = {{turn % 2, std::span(&next, 1), true}};
      engine.step(in, logits);
      got.push_back(logits);
    }
    const int32_t last = int32_t(sampling::argmax(got.back().data(), engine.n_vocab()));
    generated.push_back(last);
    const auto expected = cold(l, config, chat, 9);
    for (size_t s = 0; s < got.size(); ++s) ASSERT_EQ(got[s], expected[s]) << "step " << s;
    // The generated tokens (the last one too, whose KV is not yet computed)
    // become part of the conversation.
    chat.insert(chat.end(), generated.begin(), generated.end() - 1);
    engine.release(turn % 2);
    chat.push_back(last);
    EXPECT_GT(int64_t(chat.size()), kWindow);
  }
  // Each turn kept the global blocks of the whole prefix and only about a
  // window of local ones at its end.
  EXPECT_LE(engine.prefix_cache().cached_sliding_blocks(), 4 * (kWindow / 16 + 3));
}

TEST(SlidingWindowPrefixCache, BranchesResumeWhereTheirWindowIsKeptAndFallBackElsewhere) {
  Loaded l = load(kGemma3);
  BatchEngineConfig config;
  config.n_slots = 3;
  config.n_ctx_per_slot = 256;
  config.n_batch = 128;
  BatchEngine engine(*l.model, *l.backend, config);
  const std::vector<int32_t> trunk = some_tokens(100, 2);
  std::vector<float> logits;
  std::vector<SlotInput> in = {{0, trunk, true}};
  engine.step(in, logits);
  engine.release(0);  // a resumable point at 100

  // Two branches from the end of the trunk (regenerate, edit the last message):
  // both resume at 100, running at the same time.
  std::vector<int32_t> left = trunk, right = trunk;
  for (int32_t t : some_tokens(40, 3)) left.push_back(t + 2);
  for (int32_t t : some_tokens(60, 4)) right.push_back(t + 3);
  EXPECT_EQ(engine.cached_prefix(left), 100);
  EXPECT_EQ(engine.cached_prefix(right), 100);
  engine.start_from_cache(1, left, 100);
  engine.start_from_cache(2, right, 100);
  const auto got_left = continue_greedy(engine, 1, left, 6);
  const auto got_right = continue_greedy(engine, 2, right, 6);
  EXPECT_EQ(got_left, cold(l, config, left, 6));
  EXPECT_EQ(got_right, cold(l, config, right, 6));
  engine.release(1);
  engine.release(2);

  // A branch from position 60, inside the trunk: its window (positions 29-59)
  // was left behind by the trunk's prefill, so it falls back to the longest
  // prefix whose window is kept (none here), and is still exact.
  std::vector<int32_t> early(trunk.begin(), trunk.begin() + 60);
  for (int32_t t : some_tokens(20, 5)) early.push_back(t + 4);
  const int64_t reuse = resume_and_check(l, config, engine, 0, early, 5);
  EXPECT_LT(reuse, 60 - kWindow);
  engine.release(0);
  // A branch from position 99, inside the window kept before 100, resumes
  // there (the rows of the trunk's last partial block now live in the left
  // branch's block, which took over the pinned window).
  std::vector<int32_t> late(trunk.begin(), trunk.begin() + 99);
  late.push_back(7);
  late.push_back(8);
  EXPECT_EQ(resume_and_check(l, config, engine, 1, late, 4), 99);
  engine.release(1);
}

TEST(SlidingWindowPrefixCache, UnderMemoryPressureWindowsGiveWayAndResultsStayExact) {
  Loaded l = load(kGemma3);
  BatchEngineConfig config;
  config.n_slots = 2;
  config.n_ctx_per_slot = 192;
  config.n_batch = 48;
  BatchEngine engine(*l.model, *l.backend, config);
  // Per slot (32 + 48 - 2) / 16 + 3 = 7 local blocks; the pool has 15 in all.
  ASSERT_EQ(engine.sliding_blocks().n_blocks(), 15);
  // Many conversations, each released: their windows fill the local pool, and
  // new ones evict the least recently used windows (and global blocks).
  std::vector<std::vector<int32_t>> conversations;
  for (int c = 0; c < 6; ++c) {
    conversations.push_back(some_tokens(60 + 11 * c, 20 + c));
    const auto& t = conversations.back();
    std::vector<float> logits;
    for (size_t at = 0; at < t.size(); at += 48) {
      std::vector<SlotInput> in = {{c % 2, std::span(t).subspan(at, std::min<size_t>(48, t.size() - at)), true}};
      engine.step(in, logits);
    }
    engine.release(c % 2);
  }
  EXPECT_LE(engine.prefix_cache().cached_sliding_blocks(), 15);
  // Every conversation continues exactly, from whatever the cache still has;
  // the most recent resumes at its end.
  int fell_back = 0;
  for (int c = 5; c >= 0; --c) {
    SCOPED_TRACE(c);
    std::vector<int32_t> next = conversations[size_t(c)];
    const int64_t end = int64_t(next.size());
    for (int32_t t : some_tokens(30, 40 + c)) next.push_back(t + 5);
    const int64_t reuse = resume_and_check(l, config, engine, 0, next, 4);
    if (c == 5) {
      EXPECT_EQ(reuse, end);
    }
    EXPECT_LE(reuse, end);
    fell_back += reuse < end;
    engine.release(0);
  }
  EXPECT_GT(fell_back, 0);  // the pressure did take windows (or whole prefixes) away
  // Both slots fill their whole contexts: the cache gives every block back.
  std::vector<float> logits;
  for (int s = 0; s < 2; ++s) {
    const std::vector<int32_t> t = some_tokens(192, 60 + s);
    for (size_t at = 0; at < t.size(); at += 48) {
      std::vector<SlotInput> in = {{s, std::span(t).subspan(at, 48), true}};
      engine.step(in, logits);
    }
  }
  EXPECT_EQ(engine.slot_length(0), 192);
  EXPECT_EQ(engine.slot_length(1), 192);
}

}  // namespace

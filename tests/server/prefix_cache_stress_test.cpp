// The prefix cache under pressure, without HTTP: many requests with shared
// prefixes of every length (partial last blocks included), few slots, a KV
// pool just big enough for the slots (so every admission evicts), requests
// cancelled at once or midway, stop strings. Several requests are admitted
// in the same step, which is where one admission's eviction used to take
// the cached blocks that the next one had been offered ("the prefix cache
// holds 64 tokens of this prompt, not 78"), and where that one failure
// ended every running request.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "common/fixtures.h"
#include "server/engine_loop.h"
#include "server/served_model.h"

namespace hearth::server {
namespace {

std::unique_ptr<ServedModel> load_small_pool(int parallel, int64_t ctx) {
  ModelLoadOptions o;
  o.path = (test::source_dir() / "models/stories260K.gguf").string();
  o.n_ctx = ctx;
  o.n_parallel = parallel;
  o.n_batch = 48;
  o.n_threads = 1;
  o.max_queue = 4096;
  return ServedModel::load(o);
}

struct Outcome {
  FinishReason finish = FinishReason::None;
  std::string error;
};

Outcome wait_for(Generation& g) {
  for (int i = 0; i < 3000; ++i) {
    GenerationChunk c = g.take(std::chrono::milliseconds(20));
    if (c.done) return {c.finish, c.error};
  }
  return {FinishReason::None, "did not finish within a minute"};
}

// Prompts from a few families: a family's members share a prefix whose
// length is not a multiple of the block size, and differ after it.
std::vector<int32_t> family_prompt(std::mt19937& rng, int family, int64_t max_len) {
  std::mt19937 family_rng(uint32_t(1000 + family));
  std::uniform_int_distribution<int32_t> token(3, 500);
  const int64_t shared = 5 + int64_t(family_rng() % 40);
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < shared; ++i) prompt.push_back(token(family_rng));
  const int64_t extra = int64_t(rng() % 20);
  for (int64_t i = 0; i < extra; ++i) prompt.push_back(token(rng));
  if (int64_t(prompt.size()) > max_len) prompt.resize(size_t(max_len));
  return prompt;
}

TEST(PrefixCacheStress, BatchedAdmissionsUnderEvictionNeverFail) {
  // Four slots of 64 tokens: 17 blocks in all, so admitting a request evicts.
  auto m = load_small_pool(/*parallel=*/4, /*ctx=*/64);
  EngineLoop& engine = m->engine();
  std::mt19937 rng(7);
  int failures = 0;
  std::string first_error;
  for (int round = 0; round < 150; ++round) {
    // A burst at once: the free slots are filled in one step.
    std::vector<std::shared_ptr<Generation>> burst;
    const int n = 4 + int(rng() % 5);
    for (int i = 0; i < n; ++i) {
      GenerationParams p;
      p.prompt = family_prompt(rng, int(rng() % 12), 50);
      p.max_tokens = 1 + int64_t(rng() % 6);
      p.sampling.temperature = 0;
      if (rng() % 4 == 0) p.stop = {"e"};
      auto g = engine.submit(std::move(p));
      ASSERT_NE(g, nullptr);
      if (rng() % 8 == 0) g->cancel();
      burst.push_back(g);
    }
    for (auto& g : burst) {
      const Outcome o = wait_for(*g);
      if (o.finish == FinishReason::Error || o.finish == FinishReason::None) {
        if (failures++ == 0) first_error = o.error;
      }
    }
  }
  EXPECT_EQ(failures, 0) << "first failure: " << first_error;
}

TEST(PrefixCacheStress, ManyClientsFewSlotsAbortsAndStops) {
  auto m = load_small_pool(/*parallel=*/3, /*ctx=*/96);
  EngineLoop& engine = m->engine();
  std::atomic<int> failures{0}, finished{0};
  std::mutex error_mutex;
  std::string first_error;
  std::vector<std::thread> clients;
  for (int c = 0; c < 12; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(uint32_t(100 + c));
      for (int r = 0; r < 40; ++r) {
        GenerationParams p;
        p.prompt = family_prompt(rng, int(rng() % 8), 80);
        p.max_tokens = 1 + int64_t(rng() % 12);
        p.sampling.temperature = (rng() % 2) ? 0.0f : 0.8f;
        p.sampling.seed = rng();
        if (rng() % 3 == 0) p.stop = {"a", "the"};
        auto g = engine.submit(std::move(p));
        if (!g) continue;
        if (rng() % 6 == 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
          g->cancel();
        }
        const Outcome o = wait_for(*g);
        if (o.finish == FinishReason::Error || o.finish == FinishReason::None) {
          std::lock_guard lock(error_mutex);
          if (failures++ == 0) first_error = o.error;
        }
        ++finished;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0) << "first failure: " << first_error;
  EXPECT_EQ(finished.load(), 12 * 40);
  // The slots are all free again and the cache still holds blocks.
  for (int i = 0; i < 100 && engine.stats().running > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(engine.stats().running, 0);
}

}  // namespace
}  // namespace hearth::server

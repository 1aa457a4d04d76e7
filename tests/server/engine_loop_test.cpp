// The engine loop on the bundled stories260K: greedy output of batched,
// queued requests equals a single-sequence Session's greedy output (batch
// invariance), prefixes are reused, stop strings cut, cancel frees the slot,
// and the queue is bounded.
#include "server/engine_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/fixtures.h"
#include "session_greedy.h"
#include "runtime/session.h"
#include "server/chat_request.h"
#include "server/served_model.h"

namespace hearth::server {
namespace {

std::unique_ptr<ServedModel> load_stories(int parallel, size_t queue = 64) {
  ModelLoadOptions o;
  o.path = (test::source_dir() / "models/stories260K.gguf").string();
  o.n_ctx = 512;
  o.n_parallel = parallel;
  o.n_batch = 64;  // small, so long prompts are prefilled in several chunks
  o.n_threads = 1;
  o.max_queue = queue;
  return ServedModel::load(o);
}

using test_support::session_greedy;

struct Result {
  std::string text;
  FinishReason finish = FinishReason::None;
};

Result drain(Generation& g) {
  Result r;
  for (int i = 0; i < 600; ++i) {  // at most a minute
    GenerationChunk c = g.take(std::chrono::milliseconds(100));
    r.text += c.text;
    if (c.done) {
      r.finish = c.finish;
      return r;
    }
  }
  ADD_FAILURE() << "generation did not finish";
  return r;
}

GenerationParams greedy_params(const ServedModel& m, const std::string& prompt, int64_t max_tokens) {
  GenerationParams p;
  p.prompt = m.tokenize_prompt(prompt);
  p.max_tokens = max_tokens;
  p.sampling.temperature = 0;
  return p;
}

TEST(EngineLoop, BatchedGreedyEqualsSingleSequenceSession) {
  auto m = load_stories(/*parallel=*/3);
  const std::vector<std::string> prompts = {
      "Once upon a time", "The little dog ran to the park and saw a big red ball. He wanted to play with it",
      "Lily and Tom", "One day, a cat", "The sun was hot", "A girl named Sue had a toy"};
  std::vector<std::shared_ptr<Generation>> gens;
  for (const auto& p : prompts) {
    gens.push_back(m->engine().submit(greedy_params(*m, p, 24)));
    ASSERT_TRUE(gens.back());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Result r = drain(*gens[i]);
    EXPECT_EQ(r.text, session_greedy(*m, m->tokenize_prompt(prompts[i]), 24)) << prompts[i];
    EXPECT_TRUE(r.finish == FinishReason::Stop || r.finish == FinishReason::Length);
    EXPECT_EQ(gens[i]->usage().prompt_tokens, int64_t(m->tokenize_prompt(prompts[i]).size()));
  }
}

TEST(EngineLoop, ReusesTheLongestCachedPrefix) {
  auto m = load_stories(2);
  const std::string first = "Once upon a time, there was a little girl named Lily. She liked to";
  auto g1 = m->engine().submit(greedy_params(*m, first, 4));
  ASSERT_TRUE(g1);
  drain(*g1);
  EXPECT_EQ(g1->usage().cached_tokens, 0);
  const size_t first_len = m->tokenize_prompt(first).size();
  const std::string second = first + " play outside with her big brown dog";
  auto g2 = m->engine().submit(greedy_params(*m, second, 4));
  const Result r2 = drain(*g2);
  EXPECT_GE(g2->usage().cached_tokens, int64_t(first_len) - 1);  // a word boundary may retokenize the last token
  EXPECT_LT(g2->usage().cached_tokens, g2->usage().prompt_tokens);
  // Reuse does not change the output.
  EXPECT_EQ(r2.text, session_greedy(*m, m->tokenize_prompt(second), 4));
  // The same prompt again: everything but the last token comes from the cache.
  auto g3 = m->engine().submit(greedy_params(*m, second, 4));
  EXPECT_EQ(drain(*g3).text, r2.text);
  EXPECT_EQ(g3->usage().cached_tokens, g3->usage().prompt_tokens - 1);
}

TEST(EngineLoop, AlternatingConversationsKeepTheirCaches) {
  auto m = load_stories(2);
  const std::string a = "Once upon a time, there was a little girl named Lily. She liked to play";
  const std::string b = "Once upon a time, a big brown bear lived in the woods near a river";  // shares a prefix with a
  drain(*m->engine().submit(greedy_params(*m, a, 2)));
  drain(*m->engine().submit(greedy_params(*m, b, 2)));  // must not take a's slot
  auto a2 = m->engine().submit(greedy_params(*m, a + " outside in the sun", 2));
  drain(*a2);
  EXPECT_GE(a2->usage().cached_tokens, int64_t(m->tokenize_prompt(a).size()) - 1);
  auto b2 = m->engine().submit(greedy_params(*m, b + " and fished all day", 2));
  drain(*b2);
  EXPECT_GE(b2->usage().cached_tokens, int64_t(m->tokenize_prompt(b).size()) - 1);
}

TEST(EngineLoop, StopStringsCutTheText) {
  auto m = load_stories(1);
  const std::string reference = session_greedy(*m, m->tokenize_prompt("Once upon a time"), 40);
  ASSERT_GE(reference.size(), 12u);
  const std::string stop = reference.substr(8, 3);
  GenerationParams p = greedy_params(*m, "Once upon a time", 40);
  p.stop = {stop};
  auto g = m->engine().submit(std::move(p));
  const Result r = drain(*g);
  EXPECT_EQ(r.text, reference.substr(0, reference.find(stop)));
  EXPECT_EQ(r.finish, FinishReason::Stop);
}

GenerationParams long_params(const ServedModel& m) {
  // A grammar that cannot end early keeps the request running.
  GenerationParams p = greedy_params(m, "Count", 400);
  p.grammar = grammar_for_schema(nlohmann::json::parse(R"({"type":"array","items":{"type":"integer"},"minItems":300})"), "format");
  return p;
}

bool wait_for(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(EngineLoop, CancelFreesTheSlot) {
  auto m = load_stories(1);
  auto g = m->engine().submit(long_params(*m));
  ASSERT_TRUE(g);
  ASSERT_TRUE(wait_for([&] { return m->engine().stats().running == 1; }));
  g->cancel();
  EXPECT_TRUE(wait_for([&] { return m->engine().stats().running == 0; }));
  const Result r = drain(*g);
  EXPECT_EQ(r.finish, FinishReason::Cancelled);
  // The slot serves the next request.
  auto next = m->engine().submit(greedy_params(*m, "Once upon a time", 4));
  EXPECT_NE(drain(*next).finish, FinishReason::Cancelled);
}

// Another conversation's prefix is reused from the prefix cache even after
// the slot that computed it served other conversations since, and the output
// is what a fresh session gives.
TEST(EngineLoop, APrefixFromAnotherConversationIsReusedInAnotherSlot) {
  auto m = load_stories(2);
  const std::string system = "Once upon a time, there was a little girl named Lily. She liked to play with her toys";
  auto a = m->engine().submit(greedy_params(*m, system + " in the garden.", 3));
  drain(*a);
  auto busy = m->engine().submit(long_params(*m));  // holds one slot for the rest of the test
  ASSERT_TRUE(wait_for([&] { return m->engine().stats().running == 1; }));
  // Unrelated conversations pass through the other slot.
  for (const char* other : {"The sun was hot and the dog slept", "Tom had a red car. He drove it to the shop"})
    drain(*m->engine().submit(greedy_params(*m, other, 3)));
  const std::string question = system + ". One day, her mom gave her a big red ball";
  auto b = m->engine().submit(greedy_params(*m, question, 6));
  const Result r = drain(*b);
  busy->cancel();
  EXPECT_GE(b->usage().cached_tokens, int64_t(m->tokenize_prompt(system).size()) - 1);
  EXPECT_LT(b->usage().cached_tokens, b->usage().prompt_tokens);
  EXPECT_EQ(r.text, session_greedy(*m, m->tokenize_prompt(question), 6));
}

TEST(EngineLoop, QueueIsBounded) {
  auto m = load_stories(/*parallel=*/1, /*queue=*/1);
  auto running = m->engine().submit(long_params(*m));
  ASSERT_TRUE(running);
  ASSERT_TRUE(wait_for([&] { return m->engine().stats().running == 1; }));
  auto waiting = m->engine().submit(long_params(*m));
  EXPECT_TRUE(waiting);
  EXPECT_FALSE(m->engine().submit(long_params(*m))) << "a third request must be refused";
  running->cancel();
  waiting->cancel();
}

TEST(EngineLoop, GrammarOutputIsCompleteEvenWhenCutShort) {
  auto m = load_stories(1);
  GenerationParams p = greedy_params(*m, "Once", 6);  // far too few tokens for the schema
  p.grammar = grammar_for_schema(nlohmann::json::parse(R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})"), "format");
  auto g = m->engine().submit(std::move(p));
  const Result r = drain(*g);
  EXPECT_EQ(r.finish, FinishReason::Length);
  const auto value = nlohmann::json::parse(r.text);  // throws if not closed
  EXPECT_TRUE(value.contains("a"));
}

}  // namespace
}  // namespace hearth::server

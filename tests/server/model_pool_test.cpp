// The multi-model bookkeeping alone (no models): which idle models leave to
// make room under the budget, least recently used first; models in use never
// leave; keep_alive expiry; and Ollama's keep_alive values, as its API docs
// give them ("5m", numbers of seconds, 0, negative = forever).
#include "server/model_pool.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
using Verdict = ModelPool::Room::Verdict;
using T = ModelPool::Clock::time_point;

T at(int seconds) { return T{} + std::chrono::seconds(seconds); }

// A model loaded at `when` by one request that has ended.
void load_idle(ModelPool& pool, const std::string& name, uint64_t bytes, T when, KeepAlive keep = 5min) {
  pool.start_load(name, bytes, when);
  pool.finish_load(name);
  pool.release(name, keep, when);
}

TEST(ModelPool, FitsWithoutEvictingWhileThereIsRoom) {
  ModelPool pool(100);
  load_idle(pool, "a", 40, at(1));
  const auto room = pool.make_room(60);
  EXPECT_EQ(room.verdict, Verdict::Fits);
  EXPECT_TRUE(room.evict.empty());
  EXPECT_EQ(pool.used(), 40u);
}

TEST(ModelPool, EvictsLeastRecentlyUsedIdleFirst) {
  ModelPool pool(100);
  load_idle(pool, "a", 40, at(1));
  load_idle(pool, "b", 40, at(2));
  // "a" was used again after "b": "b" is now the least recently used.
  pool.acquire("a", at(3));
  pool.release("a", 5min, at(3));
  const auto room = pool.make_room(30);
  ASSERT_EQ(room.verdict, Verdict::Fits);
  ASSERT_EQ(room.evict.size(), 1u);
  EXPECT_EQ(room.evict[0], "b");
  // 90 bytes need both to go, oldest first.
  const auto both = pool.make_room(90);
  ASSERT_EQ(both.verdict, Verdict::Fits);
  EXPECT_EQ(both.evict, (std::vector<std::string>{"b", "a"}));
}

TEST(ModelPool, ModelsInUseNeverLeave) {
  ModelPool pool(100);
  load_idle(pool, "a", 40, at(1));
  load_idle(pool, "b", 40, at(2));
  pool.acquire("a", at(3));  // a request runs on "a"
  const auto room = pool.make_room(50);
  ASSERT_EQ(room.verdict, Verdict::Fits);
  EXPECT_EQ(room.evict, (std::vector<std::string>{"b"}));
  // 70 bytes would need "a" too: wait for its request.
  const auto wait = pool.make_room(70);
  EXPECT_EQ(wait.verdict, Verdict::Wait);
  EXPECT_TRUE(wait.evict.empty());
  pool.release("a", 5min, at(4));
  const auto now_fits = pool.make_room(70);
  ASSERT_EQ(now_fits.verdict, Verdict::Fits);
  EXPECT_EQ(now_fits.evict, (std::vector<std::string>{"b", "a"}));
}

TEST(ModelPool, ALoadInProgressHoldsItsMemory) {
  ModelPool pool(100);
  pool.start_load("a", 60, at(1));
  EXPECT_EQ(pool.used(), 60u);
  EXPECT_EQ(pool.make_room(50).verdict, Verdict::Wait);
  pool.finish_load("a");
  EXPECT_EQ(pool.make_room(50).verdict, Verdict::Wait);  // its loading request still holds it
  pool.release("a", 5min, at(2));
  EXPECT_EQ(pool.make_room(50).evict, (std::vector<std::string>{"a"}));
  pool.remove("a");
  EXPECT_EQ(pool.used(), 0u);
}

TEST(ModelPool, LargerThanTheWholeBudgetIsRefused) {
  ModelPool pool(100);
  EXPECT_EQ(pool.make_room(101).verdict, Verdict::TooLarge);
  EXPECT_EQ(pool.make_room(100).verdict, Verdict::Fits);
}

TEST(ModelPool, KeepAliveCountsOnlyWhileIdle) {
  ModelPool pool(1000);
  load_idle(pool, "a", 10, at(0), 60s);
  EXPECT_TRUE(pool.expired(at(59)).empty());
  EXPECT_EQ(pool.expired(at(60)), (std::vector<std::string>{"a"}));
  ASSERT_TRUE(pool.next_expiry().has_value());
  EXPECT_EQ(*pool.next_expiry(), at(60));
  // In use: no expiry, whatever the time.
  pool.acquire("a", at(30));
  EXPECT_TRUE(pool.expired(at(1000)).empty());
  EXPECT_FALSE(pool.next_expiry().has_value());
  // Released at 100 with 10 s: leaves at 110.
  pool.release("a", 10s, at(100));
  EXPECT_TRUE(pool.expired(at(109)).empty());
  EXPECT_EQ(pool.expired(at(110)), (std::vector<std::string>{"a"}));
}

TEST(ModelPool, KeepAliveZeroExpiresAtOnceAndForeverNever) {
  ModelPool pool(1000);
  load_idle(pool, "now", 10, at(5), 0ms);
  load_idle(pool, "forever", 10, at(5), std::nullopt);
  EXPECT_EQ(pool.expired(at(5)), (std::vector<std::string>{"now"}));
  EXPECT_EQ(*pool.next_expiry(), at(5));
  pool.remove("now");
  EXPECT_TRUE(pool.expired(at(1'000'000)).empty());
  EXPECT_FALSE(pool.next_expiry().has_value());
  // A later request sets another keep_alive (Ollama's empty prompt with keep_alive 0).
  pool.set_keep_alive("forever", 0ms, at(7));
  EXPECT_EQ(pool.expired(at(7)), (std::vector<std::string>{"forever"}));
}

TEST(ModelPool, TwoRequestsOnOneModel) {
  ModelPool pool(1000);
  load_idle(pool, "a", 10, at(0), 1s);
  pool.acquire("a", at(1));
  pool.acquire("a", at(2));
  pool.release("a", 1s, at(3));
  EXPECT_TRUE(pool.expired(at(100)).empty());  // the second is still running
  EXPECT_EQ(pool.find("a")->in_use, 1);
  pool.release("a", 1s, at(4));
  EXPECT_EQ(pool.expired(at(5)), (std::vector<std::string>{"a"}));
}

TEST(ModelPool, EntriesMostRecentFirst) {
  ModelPool pool(1000);
  load_idle(pool, "a", 1, at(1));
  load_idle(pool, "b", 1, at(2));
  load_idle(pool, "c", 1, at(3));
  pool.acquire("a", at(4));
  const auto e = pool.entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "a");
  EXPECT_EQ(e[1].name, "c");
  EXPECT_EQ(e[2].name, "b");
}

TEST(KeepAlive, OllamaValues) {
  const KeepAlive fallback = 5min;
  EXPECT_EQ(parse_keep_alive(nullptr, fallback), fallback);
  EXPECT_EQ(parse_keep_alive("", fallback), fallback);
  EXPECT_EQ(parse_keep_alive("5m", fallback), KeepAlive(300s));
  EXPECT_EQ(parse_keep_alive("10m", fallback), KeepAlive(600s));
  EXPECT_EQ(parse_keep_alive("1h", fallback), KeepAlive(3600s));
  EXPECT_EQ(parse_keep_alive("1h30m", fallback), KeepAlive(5400s));
  EXPECT_EQ(parse_keep_alive("1.5h", fallback), KeepAlive(5400s));
  EXPECT_EQ(parse_keep_alive("90s", fallback), KeepAlive(90s));
  EXPECT_EQ(parse_keep_alive("500ms", fallback), KeepAlive(500ms));
  EXPECT_EQ(parse_keep_alive(0, fallback), KeepAlive(0ms));
  EXPECT_EQ(parse_keep_alive("0", fallback), KeepAlive(0ms));
  EXPECT_EQ(parse_keep_alive("0s", fallback), KeepAlive(0ms));
  EXPECT_EQ(parse_keep_alive(300, fallback), KeepAlive(300s));
  EXPECT_EQ(parse_keep_alive(2.5, fallback), KeepAlive(2500ms));
  EXPECT_EQ(parse_keep_alive("300", fallback), KeepAlive(300s));
  // Negative: kept loaded.
  EXPECT_EQ(parse_keep_alive(-1, fallback), KeepAlive(std::nullopt));
  EXPECT_EQ(parse_keep_alive("-1", fallback), KeepAlive(std::nullopt));
  EXPECT_EQ(parse_keep_alive("-1m", fallback), KeepAlive(std::nullopt));
}

// Models on a GPU: each memory (host, then each device) has its own budget;
// a load fits when it fits in every one, and only idle models that hold some
// of a memory short of room leave for it.
TEST(ModelPool, EachMemoryHasItsOwnBudget) {
  ModelPool pool(Footprint{100, 1000});  // host, one device
  pool.start_load("cpu", Footprint{70, 0}, at(1));
  pool.finish_load("cpu");
  pool.release("cpu", 5min, at(1));
  pool.start_load("gpu", Footprint{10, 800}, at(2));
  pool.finish_load("gpu");
  pool.release("gpu", 5min, at(2));
  EXPECT_EQ(pool.used(), 80u);
  EXPECT_EQ(pool.used_in(1), 800u);
  EXPECT_EQ(pool.find("gpu")->bytes, 810u);
  // Device memory short: the model on the device leaves; the CPU one, though
  // less recently used, holds none of that memory and stays.
  auto room = pool.make_room(Footprint{10, 300});
  ASSERT_EQ(room.verdict, Verdict::Fits);
  EXPECT_EQ(room.evict, (std::vector<std::string>{"gpu"}));
  // Host memory short: the least recently used one leaves.
  room = pool.make_room(Footprint{50, 0});
  ASSERT_EQ(room.verdict, Verdict::Fits);
  EXPECT_EQ(room.evict, (std::vector<std::string>{"cpu"}));
  // Larger than one memory's whole budget: TooLarge, naming that memory.
  room = pool.make_room(Footprint{10, 1001});
  EXPECT_EQ(room.verdict, Verdict::TooLarge);
  EXPECT_EQ(room.memory, 1u);
  // The device model in use: a device load waits for it.
  pool.acquire("gpu", at(3));
  room = pool.make_room(Footprint{0, 300});
  EXPECT_EQ(room.verdict, Verdict::Wait);
  EXPECT_EQ(room.memory, 1u);
  EXPECT_TRUE(room.evict.empty());
}

TEST(KeepAlive, MalformedValuesNameTheField) {
  for (const nlohmann::json& bad : {nlohmann::json("soon"), nlohmann::json("5 minutes"), nlohmann::json("5x"),
                                    nlohmann::json("m"), nlohmann::json(true), nlohmann::json::array()}) {
    try {
      parse_keep_alive(bad, std::nullopt);
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.param, "keep_alive");
    }
  }
}

}  // namespace
}  // namespace hearth::server

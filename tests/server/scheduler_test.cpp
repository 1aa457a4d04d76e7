// The scheduler alone: token budgets, slot assignment, prefix reuse, queue
// bound and removal, checked against hand-worked step plans.
#include "server/scheduler.h"

#include <algorithm>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <string>

namespace hearth::server {
namespace {

std::vector<ScheduledChunk> plan(Scheduler& s, const Scheduler::ReuseFn& reuse = {}) {
  std::vector<ScheduledChunk> out;
  s.schedule(reuse, out);
  return out;
}

TEST(Scheduler, ChunkedPrefillUnderBudget) {
  Scheduler s(/*n_slots=*/2, /*step_budget=*/8, /*max_waiting=*/4);
  ASSERT_TRUE(s.submit(1, 20));
  auto p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].id, 1u);
  EXPECT_EQ(p[0].start, 0);
  EXPECT_EQ(p[0].count, 8);
  EXPECT_FALSE(p[0].wants_logits);
  EXPECT_TRUE(p[0].admitted);
  p = plan(s);
  EXPECT_EQ(p[0].start, 8);
  EXPECT_EQ(p[0].count, 8);
  EXPECT_FALSE(p[0].admitted);
  p = plan(s);
  EXPECT_EQ(p[0].start, 16);
  EXPECT_EQ(p[0].count, 4);  // 20 - 16
  EXPECT_TRUE(p[0].wants_logits);
  // Nothing more until a token is sampled.
  EXPECT_TRUE(plan(s).empty());
  s.append_token(1);
  p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].start, 20);
  EXPECT_EQ(p[0].count, 1);
  EXPECT_TRUE(p[0].wants_logits);
}

TEST(Scheduler, DecodesGoFirstAndPrefillTakesTheRest) {
  Scheduler s(2, 8, 4);
  ASSERT_TRUE(s.submit(1, 3));
  auto p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  s.append_token(1);
  ASSERT_TRUE(s.submit(2, 30));
  p = plan(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].id, 1u);
  EXPECT_EQ(p[0].count, 1);
  EXPECT_EQ(p[1].id, 2u);
  EXPECT_EQ(p[1].count, 7);  // budget 8 minus the decode
  EXPECT_NE(p[0].slot, p[1].slot);
  EXPECT_EQ(s.computed(2), 7);
  EXPECT_EQ(s.total(2), 30);
}

TEST(Scheduler, WaitsForAFreeSlotAndQueueIsBounded) {
  Scheduler s(1, 64, 2);
  ASSERT_TRUE(s.submit(1, 4));
  ASSERT_TRUE(s.submit(2, 4));
  EXPECT_FALSE(s.submit(3, 4));  // the queue holds at most 2 waiting
  auto p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].id, 1u);
  EXPECT_EQ(s.waiting(), 1u);
  ASSERT_TRUE(s.submit(3, 4));  // room again once one was admitted
  EXPECT_TRUE(plan(s).empty());  // 1 awaits its token; 2 and 3 wait for the slot
  EXPECT_TRUE(s.remove(1));
  EXPECT_EQ(s.slot_of(1), -1);
  p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].id, 2u);
  EXPECT_EQ(p[0].slot, 0);
  EXPECT_TRUE(s.remove(3));  // waiting requests can be removed too
  EXPECT_FALSE(s.remove(3));
  EXPECT_EQ(s.waiting(), 0u);
}

TEST(Scheduler, PicksTheSlotWithTheLongestReusablePrefix) {
  Scheduler s(3, 64, 4);
  ASSERT_TRUE(s.submit(7, 50));
  auto p = plan(s, [](RequestId, int slot) { return slot == 2 ? int64_t(40) : int64_t(slot); });
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].slot, 2);
  EXPECT_EQ(p[0].start, 40);
  EXPECT_EQ(p[0].count, 10);
  EXPECT_TRUE(p[0].wants_logits);
}

TEST(Scheduler, TheScoreDecidesNotTheReuse) {
  Scheduler s(2, 64, 4);
  ASSERT_TRUE(s.submit(1, 30));
  // Slot 0 shares 5 tokens but holds a long conversation worth keeping.
  auto p = plan(s, [](RequestId, int slot) {
    return slot == 0 ? Scheduler::SlotOffer{5, -50.0} : Scheduler::SlotOffer{0, 0.0};
  });
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].slot, 1);
  EXPECT_EQ(p[0].start, 0);
  EXPECT_EQ(p[0].count, 30);
}

TEST(Scheduler, ReuseLeavesAtLeastOneTokenToCompute) {
  Scheduler s(1, 64, 4);
  ASSERT_TRUE(s.submit(1, 10));
  auto p = plan(s, [](RequestId, int) { return int64_t(10); });  // the whole prompt is cached
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].start, 9);
  EXPECT_EQ(p[0].count, 1);
  EXPECT_TRUE(p[0].wants_logits);
}

TEST(Scheduler, EachAdmissionIsTakenBeforeTheNextOffer) {
  // The second request's offer is asked for only after the first one was
  // started (and may have evicted what the second would have reused).
  Scheduler s(2, 64, 4);
  ASSERT_TRUE(s.submit(1, 20));
  ASSERT_TRUE(s.submit(2, 20));
  std::vector<std::string> calls;
  int64_t cached_for_2 = 16;
  std::vector<ScheduledChunk> out;
  s.schedule(
      [&](RequestId id, int slot) {
        calls.push_back(fmt::format("offer {} {}", id, slot));
        return Scheduler::SlotOffer{id == 2 ? cached_for_2 : 0};
      },
      out,
      [&](RequestId id, int slot, int64_t reuse) {
        calls.push_back(fmt::format("admit {} {} {}", id, slot, reuse));
        if (id == 1) cached_for_2 = 0;  // the first admission evicted the second's prefix
        return reuse;
      });
  const std::vector<std::string> expected = {"offer 1 0", "offer 1 1", "admit 1 0 0", "offer 2 1", "admit 2 1 0"};
  EXPECT_EQ(calls, expected);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].start, 0);
  EXPECT_EQ(out[1].count, 20);
}

TEST(Scheduler, AFailedAdmissionDropsThatRequestAlone) {
  Scheduler s(2, 64, 4);
  ASSERT_TRUE(s.submit(1, 8));
  ASSERT_TRUE(s.submit(2, 8));
  ASSERT_TRUE(s.submit(3, 8));
  std::vector<ScheduledChunk> out;
  s.schedule({}, out, [](RequestId id, int, int64_t reuse) { return id == 1 ? int64_t(-1) : reuse; });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, 2u);
  EXPECT_EQ(out[0].slot, 0);  // the slot request 1 was offered stays free for the next
  EXPECT_EQ(out[1].id, 3u);
  EXPECT_EQ(s.running(), 2u);
  EXPECT_EQ(s.waiting(), 0u);
  EXPECT_EQ(s.computed(1), -1);  // gone
}

TEST(Scheduler, SixteenRequestsFourSlotsAllFinish) {
  Scheduler s(4, 16, 16);
  for (RequestId id = 1; id <= 16; ++id) ASSERT_TRUE(s.submit(id, 5));
  std::vector<int> generated(17, 0);
  int steps = 0;
  while (!s.idle() && steps < 1000) {
    ++steps;
    const auto p = plan(s);
    int64_t used = 0;
    std::vector<int> slot_seen(4, 0);
    for (const auto& c : p) {
      used += c.count;
      ASSERT_GE(c.slot, 0);
      ASSERT_LT(c.slot, 4);
      EXPECT_EQ(++slot_seen[size_t(c.slot)], 1) << "two requests in one slot";
      if (!c.wants_logits) continue;
      if (++generated[c.id] == 3) s.remove(c.id);  // 3 tokens each, then done
      else s.append_token(c.id);
    }
    EXPECT_LE(used, 16);
  }
  EXPECT_TRUE(s.idle());
  for (RequestId id = 1; id <= 16; ++id) EXPECT_EQ(generated[id], 3) << id;
}

TEST(Scheduler, RejectsBadConfiguration) {
  EXPECT_ANY_THROW(Scheduler(0, 8, 1));
  EXPECT_ANY_THROW(Scheduler(1, 0, 1));
  Scheduler s(1, 8, 1);
  EXPECT_ANY_THROW(s.submit(1, 0));
  EXPECT_ANY_THROW(s.append_token(42));
}

}  // namespace
}  // namespace hearth::server

namespace hearth::server {
namespace {

// An image's tokens [5, 15) must go in one step: a chunk never ends inside.
TEST(Scheduler, ChunkFitKeepsAnImageInOneStep) {
  Scheduler s(/*n_slots=*/1, /*step_budget=*/12, /*max_waiting=*/4);
  s.set_chunk_fit([](RequestId, int64_t start, int64_t count) -> int64_t {
    const int64_t begin = 5, end = 15;
    if (start < end && start + count > begin && start + count < end) return std::max<int64_t>(0, begin - start);
    return count;
  });
  ASSERT_TRUE(s.submit(1, 20));
  auto p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].start, 0);
  EXPECT_EQ(p[0].count, 5);  // stops before the image
  EXPECT_TRUE(p[0].admitted);
  p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].start, 5);
  EXPECT_EQ(p[0].count, 12);  // the whole image and two more
  p = plan(s);
  EXPECT_EQ(p[0].start, 17);
  EXPECT_EQ(p[0].count, 3);
  EXPECT_TRUE(p[0].wants_logits);
}

// Admitted with nothing that fits yet: still announced (count 0), so the
// engine starts the slot.
TEST(Scheduler, AnAdmittedRequestIsAnnouncedEvenWithAnEmptyChunk) {
  Scheduler s(/*n_slots=*/1, /*step_budget=*/4, /*max_waiting=*/4);
  s.set_chunk_fit([](RequestId, int64_t start, int64_t count) -> int64_t { return start == 0 ? 0 : count; });
  ASSERT_TRUE(s.submit(1, 6));
  auto p = plan(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].admitted);
  EXPECT_EQ(p[0].count, 0);
  EXPECT_FALSE(p[0].wants_logits);
}

}  // namespace
}  // namespace hearth::server

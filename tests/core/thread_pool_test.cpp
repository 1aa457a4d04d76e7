#include <atomic>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "core/thread_pool.h"

namespace {

TEST(ThreadPool, EveryIndexRunsOnceAcrossManyRuns) {
  for (int threads : {1, 2, 3, 5}) {
    hearth::ThreadPool pool(threads);
    for (int run = 0; run < 2000; ++run) {
      std::vector<std::atomic<int>> hits(97);
      pool.parallel_for(97, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads, run " << run;
    }
  }
}

TEST(ThreadPool, RunGivesEachThreadItsIndexAndSurvivesIdleGaps) {
  hearth::ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::atomic<int>> seen(3);
    pool.run([&](int index, int n) {
      EXPECT_EQ(n, 3);
      seen[index].fetch_add(1);
    });
    for (auto& s : seen) EXPECT_EQ(s.load(), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // workers go to sleep in between
  }
}

}  // namespace

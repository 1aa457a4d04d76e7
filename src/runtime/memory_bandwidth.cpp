#include "runtime/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "core/thread_pool.h"

namespace hearth::runtime {

BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int passes) {
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[n]);
  // Touch every page from the thread that will read it (first-touch placement).
  pool.parallel_for(int64_t(n), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buffer[i] = uint64_t(i);
  });
  std::vector<uint64_t> sums(pool.size(), 0);
  BandwidthResult result;
  result.bytes = n * sizeof(uint64_t);
  result.passes = passes;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.run([&](int thread, int n_threads) {
      const size_t begin = n * thread / n_threads, end = n * (thread + 1) / n_threads;
      // Four independent accumulators keep several loads in flight.
      uint64_t a = 0, b = 0, c = 0, d = 0;
      size_t i = begin;
      for (; i + 4 <= end; i += 4) {
        a += buffer[i];
        b ^= buffer[i + 1];
        c += buffer[i + 2];
        d ^= buffer[i + 3];
      }
      for (; i < end; ++i) a += buffer[i];
      sums[thread] += a + b + c + d;
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.gb_per_s = std::max(result.gb_per_s, double(result.bytes) / seconds / 1e9);
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  return result;
}

}  // namespace hearth::runtime

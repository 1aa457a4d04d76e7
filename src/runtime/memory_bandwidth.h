// The machine's memory read bandwidth, measured the way decode reads weights:
// every thread streams its own slice of a buffer much larger than the caches.
#pragma once

#include <cstdint>

namespace hearth {
class ThreadPool;
}

namespace hearth::runtime {

struct BandwidthResult {
  double gb_per_s = 0;  // best of the passes, 1 GB = 1e9 bytes
  uint64_t bytes = 0;   // buffer size
  int passes = 0;
};

BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes = 1ull << 30, int passes = 5);

}  // namespace hearth::runtime

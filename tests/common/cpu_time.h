// CPU time of the calling thread, for tests that bound how long a refusal
// takes: unlike the wall clock it is not stretched by a busy machine.
#pragma once

#include <ctime>

namespace hearth::test {

inline double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

}  // namespace hearth::test

// Inputs for the micro-benchmarks: normally distributed floats, reproducible by seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace hearth::bench {

inline std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal(rng);
  return v;
}

}  // namespace hearth::bench

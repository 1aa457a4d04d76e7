// Random but valid quantized rows for types hearth cannot quantize to on its
// own yet (the IQ lattice types): random bytes (every grid index, sign and
// scale code is legal) with the block's float scale set to a sane value.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::test {

inline std::vector<uint8_t> random_blocks(DType type, int64_t n, uint32_t seed) {
  const DTypeInfo& info = dtype_info(type);
  std::vector<uint8_t> out(row_bytes(type, uint64_t(n)));
  std::mt19937 rng(seed);
  for (auto& b : out) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(0.002f, 0.05f);
  for (size_t off = 0; off < out.size(); off += info.type_size) {
    uint8_t* block = out.data() + off;
    const uint16_t d = fp32_to_fp16(scale(rng));
    switch (type) {
      case DType::IQ1_M: {
        // The f16 scale lives in the top nibble of the four scale words.
        uint16_t sc[4];
        std::memcpy(sc, block + offsetof(block_iq1_m, scales), sizeof(sc));
        for (int k = 0; k < 4; ++k) sc[k] = uint16_t((sc[k] & 0x0fff) | (((d >> (4 * k)) & 0xf) << 12));
        std::memcpy(block + offsetof(block_iq1_m, scales), sc, sizeof(sc));
        break;
      }
      case DType::TQ1_0: std::memcpy(block + offsetof(block_tq1_0, d), &d, 2); break;
      case DType::TQ2_0: std::memcpy(block + offsetof(block_tq2_0, d), &d, 2); break;
      case DType::MXFP4: block[0] = uint8_t(118 + rng() % 12); break;
      default: std::memcpy(block, &d, 2); break;  // d first in every other block
    }
  }
  return out;
}

// ref::quantize_row where hearth has a quantizer for `type`, random blocks otherwise.
inline std::vector<uint8_t> quantize_or_random(DType type, const float* values, int64_t n, uint32_t seed) {
  if (!ref::can_quantize(type)) return random_blocks(type, n, seed);
  std::vector<uint8_t> out(row_bytes(type, uint64_t(n)));
  ref::quantize_row(type, values, out.data(), n);
  return out;
}

// Normal random floats (mean 0, standard deviation `scale`), the same for a seed.
inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight of `type` (n_mat matrices of n_out rows of n_in) made from random
// values by quantize_or_random, kept alive with its bytes.
struct TestWeight {
  std::vector<uint8_t> bytes;
  backend::Weight w;
};

inline TestWeight make_test_weight(DType type, int64_t n_in, int64_t n_out, int64_t n_mat, uint32_t seed) {
  TestWeight t;
  const size_t row = row_bytes(type, uint64_t(n_in));
  t.bytes.resize(row * size_t(n_out * n_mat));
  const auto values = random_floats(size_t(n_in * n_out * n_mat), seed, 0.5f);
  for (int64_t r = 0; r < n_out * n_mat; ++r) {
    const auto q = quantize_or_random(type, values.data() + r * n_in, n_in, seed * 7919u + uint32_t(r));
    std::memcpy(t.bytes.data() + size_t(r) * row, q.data(), row);
  }
  t.w = backend::Weight{type, t.bytes.data(), n_in, n_out, n_mat, row};
  return t;
}

}  // namespace hearth::test

// Reference dequantization and dot products of the k-quants (Q2_K .. Q6_K,
// 256-element super-blocks) and of Q8_K, their activation type. The float
// expressions in the dequantizers follow ggml's operation order exactly, which
// is what makes them bit-exact. Dot products unpack each super-block to
// integer levels, form exact integer sums per sub-block and scale once per
// super-block, as ggml's kernels do.
#include <cstring>

#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kSuper = kQK_K;

// Integer level of element l (0..255) in the 2-bit packing shared by Q2_K and
// Q3_K: 128-element halves, 32 bytes each, 4 shifts of 2 bits.
inline int two_bit_level(const uint8_t* qs, int l) {
  const int half = l / 128, within = l % 128;
  const int shift = 2 * (within / 32);
  return (qs[32 * half + within % 32] >> shift) & 3;
}

// Level of element l in the 4-bit packing of Q4_K / Q5_K (64-element chunks:
// low nibbles first, then high nibbles of the same 32 bytes).
inline int four_bit_level(const uint8_t* qs, int l) {
  const int chunk = l / 64, within = l % 64;
  const uint8_t byte = qs[32 * chunk + within % 32];
  return within < 32 ? (byte & 0xf) : (byte >> 4);
}

// Level (0..63) of element l of Q6_K: 128-element halves; in each, ql has 64
// bytes (elements 0-31 and 64-95 in low nibbles of bytes 0-31 / 32-63 ...).
inline int six_bit_level(const block_q6_K& b, int l) {
  const int half = l / 128, within = l % 128;
  const int quarter = within / 32, lane = within % 32;  // quarter 0..3
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const uint8_t low_byte = ql[lane + 32 * (quarter & 1)];
  const int low = quarter < 2 ? (low_byte & 0xf) : (low_byte >> 4);
  const int high = (qh[lane] >> (2 * quarter)) & 3;
  return low | (high << 4);
}

// Sum over groups of `group` elements of scale[g] * dot(levels, act) for one
// super-block; exact in int32 for every k-quant's ranges.
inline int scaled_group_dot(const int8_t* levels, const int8_t* act, const int* scales, int group) {
  int total = 0;
  for (int g = 0; g < kSuper / group; ++g) {
    int dot = 0;
    for (int j = 0; j < group; ++j) dot += int(levels[g * group + j]) * int(act[g * group + j]);
    total += scales[g] * dot;
  }
  return total;
}

}  // namespace

// ---------------------------------------------------------------- dequantize

void dequantize_q2_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q2_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    const float d = fp16_to_fp32(blocks[i].d);
    const float min = fp16_to_fp32(blocks[i].dmin);
    for (int l = 0; l < kSuper; ++l) {
      const uint8_t sc = blocks[i].scales[l / 16];
      const float dl = d * float(sc & 0xf);
      const float ml = min * float(sc >> 4);
      *dst++ = dl * float(two_bit_level(blocks[i].qs, l)) - ml;
    }
  }
}

void dequantize_q3_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q3_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    const float d_all = fp16_to_fp32(blocks[i].d);
    int8_t scales[16];
    q3_k_scales(blocks[i].scales, scales);
    for (int l = 0; l < kSuper; ++l) {
      const float dl = d_all * float(scales[l / 16]);
      // The high bit of element l sits in hmask[l % 32], bit l / 32; when
      // clear the level is 4 lower.
      const bool high = (blocks[i].hmask[l % 32] >> (l / 32)) & 1;
      *dst++ = dl * float(two_bit_level(blocks[i].qs, l) - (high ? 0 : 4));
    }
  }
}

void dequantize_q4_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q4_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    const float d = fp16_to_fp32(blocks[i].d);
    const float min = fp16_to_fp32(blocks[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k4_scale_min(j, blocks[i].scales, &sc, &m);
      const float dj = d * float(sc);
      const float mj = min * float(m);
      for (int l = 32 * j; l < 32 * j + 32; ++l) {
        *dst++ = dj * float(four_bit_level(blocks[i].qs, l)) - mj;
      }
    }
  }
}

void dequantize_q5_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q5_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    const float d = fp16_to_fp32(blocks[i].d);
    const float min = fp16_to_fp32(blocks[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k4_scale_min(j, blocks[i].scales, &sc, &m);
      const float dj = d * float(sc);
      const float mj = min * float(m);
      for (int l = 32 * j; l < 32 * j + 32; ++l) {
        // Fifth bit of element l: qh[l % 32], bit l / 32.
        const int high = (blocks[i].qh[l % 32] >> (l / 32)) & 1;
        *dst++ = dj * float(four_bit_level(blocks[i].qs, l) + 16 * high) - mj;
      }
    }
  }
}

void dequantize_q6_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q6_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int l = 0; l < kSuper; ++l) {
      // ggml: d * sc * q, evaluated left to right.
      *dst++ = d * float(blocks[i].scales[l / 16]) * float(six_bit_level(blocks[i], l) - 32);
    }
  }
}

void dequantize_q8_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q8_K*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i) {
    for (int l = 0; l < kSuper; ++l) *dst++ = blocks[i].d * float(blocks[i].qs[l]);
  }
}

// ---------------------------------------------------------------- dot products

float vec_dot_q2_K(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q2_K*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  int8_t levels[kSuper];
  int scales[16];
  for (int64_t i = 0; i < n / kSuper; ++i) {
    int min_sum = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = w[i].scales[g] & 0xf;
      min_sum += a[i].bsums[g] * (w[i].scales[g] >> 4);
    }
    for (int l = 0; l < kSuper; ++l) levels[l] = int8_t(two_bit_level(w[i].qs, l));
    const int dot = scaled_group_dot(levels, a[i].qs, scales, 16);
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = a[i].d * fp16_to_fp32(w[i].dmin);
    sum += d * float(dot) - dmin * float(min_sum);
  }
  return sum;
}

float vec_dot_q3_K(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q3_K*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  int8_t levels[kSuper];
  int scales[16];
  for (int64_t i = 0; i < n / kSuper; ++i) {
    int8_t packed_scales[16];
    q3_k_scales(w[i].scales, packed_scales);
    for (int g = 0; g < 16; ++g) scales[g] = packed_scales[g];
    for (int l = 0; l < kSuper; ++l) {
      const bool high = (w[i].hmask[l % 32] >> (l / 32)) & 1;
      levels[l] = int8_t(two_bit_level(w[i].qs, l) - (high ? 0 : 4));
    }
    const int dot = scaled_group_dot(levels, a[i].qs, scales, 16);
    sum += fp16_to_fp32(w[i].d) * a[i].d * float(dot);
  }
  return sum;
}

float vec_dot_q4_K(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q4_K*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  int8_t levels[kSuper];
  int scales[8];
  for (int64_t i = 0; i < n / kSuper; ++i) {
    int min_sum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k4_scale_min(j, w[i].scales, &sc, &m);
      scales[j] = sc;
      min_sum += (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]) * m;
    }
    for (int l = 0; l < kSuper; ++l) levels[l] = int8_t(four_bit_level(w[i].qs, l));
    const int dot = scaled_group_dot(levels, a[i].qs, scales, 32);
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = a[i].d * fp16_to_fp32(w[i].dmin);
    sum += d * float(dot) - dmin * float(min_sum);
  }
  return sum;
}

float vec_dot_q5_K(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q5_K*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  int8_t levels[kSuper];
  int scales[8];
  for (int64_t i = 0; i < n / kSuper; ++i) {
    int min_sum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k4_scale_min(j, w[i].scales, &sc, &m);
      scales[j] = sc;
      min_sum += (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]) * m;
    }
    for (int l = 0; l < kSuper; ++l) {
      const int high = (w[i].qh[l % 32] >> (l / 32)) & 1;
      levels[l] = int8_t(four_bit_level(w[i].qs, l) + 16 * high);
    }
    const int dot = scaled_group_dot(levels, a[i].qs, scales, 32);
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = a[i].d * fp16_to_fp32(w[i].dmin);
    sum += d * float(dot) - dmin * float(min_sum);
  }
  return sum;
}

float vec_dot_q6_K(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q6_K*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  int8_t levels[kSuper];
  int scales[16];
  for (int64_t i = 0; i < n / kSuper; ++i) {
    for (int g = 0; g < 16; ++g) scales[g] = w[i].scales[g];
    for (int l = 0; l < kSuper; ++l) levels[l] = int8_t(six_bit_level(w[i], l) - 32);
    const int dot = scaled_group_dot(levels, a[i].qs, scales, 16);
    sum += fp16_to_fp32(w[i].d) * a[i].d * float(dot);
  }
  return sum;
}

}  // namespace hearth::ref

// Reference kernels for ggml's 32-element block types: Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 (weights) and Q8_0 / Q8_1 (activations).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kBlock = 32;

// The 32 fifth bits of a Q5 block, as one little-endian word.
uint32_t load_high_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return bits;
}

// Largest |x| over one block, and the signed value attaining it first.
void block_abs_max(const float* x, float* amax, float* signed_max) {
  *amax = 0.0f;
  *signed_max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (*amax < std::fabs(x[j])) {
      *amax = std::fabs(x[j]);
      *signed_max = x[j];
    }
  }
}

void block_min_max(const float* x, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    *min = std::min(*min, x[j]);
    *max = std::max(*max, x[j]);
  }
}

// Dot product of 32 int8 activations with 32 integer weights.
template <typename Weights>
int block_dot(const Weights& w, const int8_t* a) {
  int sum = 0;
  for (int j = 0; j < kBlock; ++j) sum += int(w[j]) * int(a[j]);
  return sum;
}

// The AVX from_float of ggml: scale = amax/127, multiplier 127/amax (not
// 1/scale), rounding to nearest even. Returns the f32 scale; fills qs.
float quantize_act_block(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  for (int j = 0; j < kBlock; ++j) qs[j] = int8_t(std::nearbyint(x[j] * id));
  return d;
}

}  // namespace

// ---------------------------------------------------------------- dequantize

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q4_0*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int j = 0; j < kBlock / 2; ++j) {
      dst[j] = float((blocks[i].qs[j] & 0xf) - 8) * d;
      dst[j + kBlock / 2] = float((blocks[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q4_1*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    const float m = fp16_to_fp32(blocks[i].m);
    for (int j = 0; j < kBlock / 2; ++j) {
      dst[j] = float(blocks[i].qs[j] & 0xf) * d + m;
      dst[j + kBlock / 2] = float(blocks[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q5_0*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    const uint32_t qh = load_high_bits(blocks[i].qh);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = (blocks[i].qs[j] & 0xf) | int(((qh >> j) & 1) << 4);
      const int high = (blocks[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
      dst[j] = float(low - 16) * d;
      dst[j + kBlock / 2] = float(high - 16) * d;
    }
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q5_1*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    const float m = fp16_to_fp32(blocks[i].m);
    const uint32_t qh = load_high_bits(blocks[i].qh);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = (blocks[i].qs[j] & 0xf) | int(((qh >> j) & 1) << 4);
      const int high = (blocks[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
      dst[j] = float(low) * d + m;
      dst[j + kBlock / 2] = float(high) * d + m;
    }
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q8_0*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int j = 0; j < kBlock; ++j) dst[j] = float(blocks[i].qs[j]) * d;
  }
}

void dequantize_q8_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_q8_1*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int j = 0; j < kBlock; ++j) dst[j] = float(blocks[i].qs[j]) * d;
  }
}

// ---------------------------------------------------------------- quantize
// Closed-form reference quantizers; the truncating casts and clamps are
// ggml's exactly (they decide the bytes of every llama-quantize'd file).

void quantize_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q4_0*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float amax, max;
    block_abs_max(src, &amax, &max);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = std::min(15, int(int8_t(src[j] * id + 8.5f)));
      const int high = std::min(15, int(int8_t(src[j + kBlock / 2] * id + 8.5f)));
      blocks[i].qs[j] = uint8_t(low | (high << 4));
    }
  }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q4_1*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float min, max;
    block_min_max(src, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    blocks[i].m = fp32_to_fp16(min);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = std::min(15, int(int8_t((src[j] - min) * id + 0.5f)));
      const int high = std::min(15, int(int8_t((src[j + kBlock / 2] - min) * id + 0.5f)));
      blocks[i].qs[j] = uint8_t(low | (high << 4));
    }
  }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q5_0*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float amax, max;
    block_abs_max(src, &amax, &max);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = std::min(31, int(int8_t(src[j] * id + 16.5f)));
      const int high = std::min(31, int(int8_t(src[j + kBlock / 2] * id + 16.5f)));
      blocks[i].qs[j] = uint8_t((low & 0xf) | ((high & 0xf) << 4));
      qh |= uint32_t((low >> 4) & 1) << j;
      qh |= uint32_t((high >> 4) & 1) << (j + kBlock / 2);
    }
    std::memcpy(blocks[i].qh, &qh, sizeof(qh));
  }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q5_1*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float min, max;
    block_min_max(src, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    blocks[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock / 2; ++j) {
      const int low = uint8_t((src[j] - min) * id + 0.5f);
      const int high = uint8_t((src[j + kBlock / 2] - min) * id + 0.5f);
      blocks[i].qs[j] = uint8_t((low & 0xf) | ((high & 0xf) << 4));
      qh |= uint32_t((low >> 4) & 1) << j;
      qh |= uint32_t((high >> 4) & 1) << (j + kBlock / 2);
    }
    std::memcpy(blocks[i].qh, &qh, sizeof(qh));
  }
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q8_0*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kBlock; ++j) blocks[i].qs[j] = int8_t(std::round(src[j] * id));
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q8_1*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kBlock; ++j) {
      blocks[i].qs[j] = int8_t(std::round(src[j] * id));
      sum += blocks[i].qs[j];
    }
    blocks[i].s = fp32_to_fp16(float(sum) * d);
  }
}

void quantize_act_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q8_0*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    blocks[i].d = fp32_to_fp16(quantize_act_block(src, blocks[i].qs));
  }
}

void quantize_act_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q8_1*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, src += kBlock) {
    const float d = quantize_act_block(src, blocks[i].qs);
    int sum = 0;
    for (int j = 0; j < kBlock; ++j) sum += blocks[i].qs[j];
    blocks[i].d = fp32_to_fp16(d);
    blocks[i].s = fp32_to_fp16(d * float(sum));
  }
}

// ---------------------------------------------------------------- dot products
// Integer dot per block, scaled once per block, as ggml does.

float vec_dot_q4_0(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q4_0*>(weight);
  const auto* a = static_cast<const block_q8_0*>(act);
  float sum = 0.0f;
  int values[kBlock];
  for (int64_t i = 0; i < n / kBlock; ++i) {
    for (int j = 0; j < kBlock / 2; ++j) {
      values[j] = (w[i].qs[j] & 0xf) - 8;
      values[j + kBlock / 2] = (w[i].qs[j] >> 4) - 8;
    }
    sum += float(block_dot(values, a[i].qs)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d));
  }
  return sum;
}

float vec_dot_q4_1(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q4_1*>(weight);
  const auto* a = static_cast<const block_q8_1*>(act);
  float sum = 0.0f;
  int values[kBlock];
  for (int64_t i = 0; i < n / kBlock; ++i) {
    for (int j = 0; j < kBlock / 2; ++j) {
      values[j] = w[i].qs[j] & 0xf;
      values[j + kBlock / 2] = w[i].qs[j] >> 4;
    }
    // The min term uses the activation's stored sum s = d * sum(q).
    sum += float(block_dot(values, a[i].qs)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d)) +
           fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
  }
  return sum;
}

float vec_dot_q5_0(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q5_0*>(weight);
  const auto* a = static_cast<const block_q8_0*>(act);
  float sum = 0.0f;
  int values[kBlock];
  for (int64_t i = 0; i < n / kBlock; ++i) {
    const uint32_t qh = load_high_bits(w[i].qh);
    for (int j = 0; j < kBlock / 2; ++j) {
      values[j] = ((w[i].qs[j] & 0xf) | int(((qh >> j) & 1) << 4)) - 16;
      values[j + kBlock / 2] = ((w[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4)) - 16;
    }
    sum += float(block_dot(values, a[i].qs)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d));
  }
  return sum;
}

float vec_dot_q5_1(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q5_1*>(weight);
  const auto* a = static_cast<const block_q8_1*>(act);
  float sum = 0.0f;
  int values[kBlock];
  for (int64_t i = 0; i < n / kBlock; ++i) {
    const uint32_t qh = load_high_bits(w[i].qh);
    for (int j = 0; j < kBlock / 2; ++j) {
      values[j] = (w[i].qs[j] & 0xf) | int(((qh >> j) & 1) << 4);
      values[j + kBlock / 2] = (w[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
    }
    sum += float(block_dot(values, a[i].qs)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d)) +
           fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
  }
  return sum;
}

float vec_dot_q8_0(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_q8_0*>(weight);
  const auto* a = static_cast<const block_q8_0*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kBlock; ++i) {
    sum += float(block_dot(w[i].qs, a[i].qs)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d));
  }
  return sum;
}

}  // namespace hearth::ref

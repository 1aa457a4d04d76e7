// Reference kernels of the non-linear 4-bit types IQ4_NL (32-element blocks,
// activations Q8_0) and IQ4_XS (256-element super-blocks with 6-bit block
// scales, activations Q8_K). Levels come from the 16-entry table
// kValuesIq4nl; quantization searches the block scale as ggml's
// quantize_row_iq4_nl_impl does with ntry = 7 (what llama-quantize uses).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
constexpr int kBlock = 32;
constexpr int kSearchSteps = 7;

// Index of the table level nearest to x; a tie goes to the upper level.
// Compares 2x with the sum of neighbours, both exact in float.
int nearest_level(float x) {
  const float twice = x + x;
  int index = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int candidate = index + step;
    if (twice >= float(kValuesIq4nl[candidate - 1] + kValuesIq4nl[candidate])) index = candidate;
  }
  return index;
}

// Best scale for one 32-element block with weights x^2: start from
// max/-127, then try 15 scales (itry - 127)/max and keep the best weighted
// least-squares fit. Writes the levels found at the starting scale to L.
float search_block_scale(const float* x, uint8_t* L) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, kBlock);
    return 0.f;
  }
  float d = -max / kValuesIq4nl[0];
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < kBlock; ++j) {
    const int l = nearest_level(id * x[j]);
    L[j] = uint8_t(l);
    const float q = kValuesIq4nl[l];
    const float w = x[j] * x[j];
    sumqx += w * q * x[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -kSearchSteps; itry <= kSearchSteps; ++itry) {
    id = float(itry + kValuesIq4nl[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float q = kValuesIq4nl[nearest_level(id * x[j])];
      const float w = x[j] * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Element j of a 32-block: low nibble of qs[j] for j < 16, high nibble of qs[j-16] after.
void pack_block(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kBlock / 2; ++j) qs[j] = uint8_t(L[j] | (L[j + kBlock / 2] << 4));
}

int dot_block(const uint8_t* qs, const int8_t* act) {
  int sum = 0;
  for (int j = 0; j < kBlock / 2; ++j) {
    sum += kValuesIq4nl[qs[j] & 0xf] * act[j];
    sum += kValuesIq4nl[qs[j] >> 4] * act[j + kBlock / 2];
  }
  return sum;
}

int iq4_xs_block_scale(const block_iq4_xs& b, int ib) {
  const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf;
  const int high = (b.scales_h >> (2 * ib)) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_iq4_nl*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, dst += kBlock) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int j = 0; j < kBlock / 2; ++j) {
      dst[j] = d * float(kValuesIq4nl[blocks[i].qs[j] & 0xf]);
      dst[j + kBlock / 2] = d * float(kValuesIq4nl[blocks[i].qs[j] >> 4]);
    }
  }
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const block_iq4_xs*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(blocks[i].d);
    for (int ib = 0; ib < kQK_K / kBlock; ++ib, dst += kBlock) {
      const float dl = d * float(iq4_xs_block_scale(blocks[i], ib));
      const uint8_t* qs = blocks[i].qs + 16 * ib;
      for (int j = 0; j < kBlock / 2; ++j) {
        dst[j] = dl * float(kValuesIq4nl[qs[j] & 0xf]);
        dst[j + kBlock / 2] = dl * float(kValuesIq4nl[qs[j] >> 4]);
      }
    }
  }
}

void quantize_iq4_nl(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_iq4_nl*>(dst);
  uint8_t L[kBlock];
  for (int64_t i = 0; i < n / kBlock; ++i, x += kBlock) {
    const float scale = search_block_scale(x, L);
    blocks[i].d = fp32_to_fp16(scale);
    // Requantize against the chosen (unrounded) scale.
    const float id = scale != 0.0f ? 1 / scale : 0.f;
    for (int j = 0; j < kBlock; ++j) L[j] = uint8_t(nearest_level(id * x[j]));
    pack_block(L, blocks[i].qs);
  }
}

void quantize_iq4_xs(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_iq4_xs*>(dst);
  uint8_t L[kBlock];
  float scales[kQK_K / kBlock];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    block_iq4_xs& block = blocks[i];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      scales[ib] = search_block_scale(x + kBlock * ib, L);
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    // 6-bit signed block scales relative to d = -max_scale / 32.
    const float d = -max_scale / 32;
    block.d = fp32_to_fp16(d);
    block.scales_h = 0;
    std::memset(block.scales_l, 0, sizeof(block.scales_l));
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * float(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      const float* xb = x + kBlock * ib;
      for (int j = 0; j < kBlock; ++j) L[j] = uint8_t(nearest_level(idl * xb[j]));
      pack_block(L, block.qs + 16 * ib);
      l += 32;
      block.scales_l[ib / 2] |= uint8_t((l & 0xf) << (4 * (ib % 2)));
      block.scales_h = uint16_t(block.scales_h | ((l >> 4) << (2 * ib)));
    }
  }
}

float vec_dot_iq4_nl(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_iq4_nl*>(weight);
  const auto* a = static_cast<const block_q8_0*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kBlock; ++i) {
    sum += (fp16_to_fp32(a[i].d) * fp16_to_fp32(w[i].d)) * float(dot_block(w[i].qs, a[i].qs));
  }
  return sum;
}

float vec_dot_iq4_xs(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_iq4_xs*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int total = 0;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      total += iq4_xs_block_scale(w[i], ib) * dot_block(w[i].qs + 16 * ib, a[i].qs + kBlock * ib);
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * float(total);
  }
  return sum;
}

}  // namespace hearth::ref

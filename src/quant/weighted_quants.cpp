#include "quant/weighted_quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/ref/kernels_ref.h"
#include "backend/ref/quants.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::quant {
namespace {

using ref::nearest_int;

constexpr int kBlock = 32;  // QK4_0 == QK4_1 == QK5_0 == QK5_1
constexpr float kGroupMaxEps = 1e-15f;

// ggml's make_qx_quants with importance weights (rmse_type 1): symmetric
// levels -nmax..nmax-1 stored +nmax, 19 candidate scales around nmax/max, the
// best weighted least-squares fit kept. Float operations in ggml's order.
float make_qx_quants_weighted(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  float iscale = -float(nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = qw[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = qw[i];
      sumlx += w * x[i] * float(l);
      suml2 += w * float(l) * float(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// ggml's make_qkx3_quants with weights: x ~ scale * L - the_min, L in 0..nmax;
// nstep + 1 candidate scales each refined by a weighted fit of scale and min.
float make_qkx3_quants_weighted(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                                uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max <= min) {
    std::memset(L, 0, size_t(n));
    *the_min = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_mad += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      sum_l += w * float(l);
      sum_l2 += w * float(l) * float(l);
      sum_xl += w * float(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        mad += weights[i] * diff;
      }
      if (mad < best_mad) {
        std::copy(Laux, Laux + n, L);
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// The per-element weights ggml builds for the legacy types:
// importance * sqrt(mean square of the row + x^2).
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / float(n);
}

void block_weights(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int j = 0; j < kBlock; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kBlock / 2; ++j) qs[j] = uint8_t((L[j] & 0x0F) | ((L[j + kBlock / 2] & 0x0F) << 4));
}

uint32_t fifth_bits(const uint8_t* L) {
  uint32_t qh = 0;
  for (int j = 0; j < kBlock / 2; ++j) {
    qh |= uint32_t((L[j] & 0x10u) >> 4) << j;
    qh |= uint32_t((L[j + kBlock / 2] & 0x10u) >> 4) << (j + kBlock / 2);
  }
  return qh;
}

// Q4_0 (nmax 8) and Q5_0 (nmax 16): symmetric, one f16 scale per block.
template <typename Block>
void quantize_symmetric(const float* x, void* dst, int64_t n, const float* importance, int nmax) {
  auto* y = static_cast<Block*>(dst);
  const float sigma2 = row_sigma2(x, n);
  float weight[kBlock];
  int8_t L[kBlock];
  for (int64_t ib = 0; ib < n / kBlock; ++ib) {
    const float* xb = x + kBlock * ib;
    block_weights(xb, importance + kBlock * ib, sigma2, weight);
    const float d = make_qx_quants_weighted(kBlock, nmax, xb, L, weight);
    y[ib].d = fp32_to_fp16(d);
    const auto* levels = reinterpret_cast<const uint8_t*>(L);
    pack_nibbles(levels, y[ib].qs);
    if constexpr (std::is_same_v<Block, block_q5_0>) {
      const uint32_t qh = fifth_bits(levels);
      std::memcpy(y[ib].qh, &qh, sizeof qh);
    }
  }
}

// Q4_1 (nmax 15) and Q5_1 (nmax 31): scale and minimum per block.
template <typename Block>
void quantize_asymmetric(const float* x, void* dst, int64_t n, const float* importance, int nmax) {
  auto* y = static_cast<Block*>(dst);
  const float sigma2 = row_sigma2(x, n);
  float weight[kBlock];
  uint8_t L[kBlock], Laux[kBlock];
  for (int64_t ib = 0; ib < n / kBlock; ++ib) {
    const float* xb = x + kBlock * ib;
    block_weights(xb, importance + kBlock * ib, sigma2, weight);
    float min;
    const float d = make_qkx3_quants_weighted(kBlock, nmax, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    pack_nibbles(L, y[ib].qs);
    if constexpr (std::is_same_v<Block, block_q5_1>) {
      const uint32_t qh = fifth_bits(L);
      std::memcpy(y[ib].qh, &qh, sizeof qh);
    }
  }
}

}  // namespace

bool uses_importance_like_ggml(DType type) {
  switch (type) {
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ3_XXS:
    case DType::IQ3_S:
    // ggml ignores the weights for these:
    case DType::Q8_0:
    case DType::F16:
    case DType::BF16:
    case DType::F32:
    case DType::TQ1_0:
    case DType::TQ2_0:
    case DType::MXFP4:
      return true;
    default:
      return false;  // the k-quants, IQ4_NL, IQ4_XS, IQ1_S, IQ1_M
  }
}

bool can_quantize_with_importance(DType type) {
  return ref::can_quantize(type) || type == DType::IQ2_XXS || type == DType::IQ2_XS;
}

void quantize_row_with_importance(DType type, const float* src, void* dst, int64_t n, const float* importance) {
  if (importance == nullptr) return ref::quantize_row_weighted(type, src, dst, n, nullptr);
  switch (type) {
    case DType::Q4_0: return quantize_symmetric<block_q4_0>(src, dst, n, importance, 8);
    case DType::Q5_0: return quantize_symmetric<block_q5_0>(src, dst, n, importance, 16);
    case DType::Q4_1: return quantize_asymmetric<block_q4_1>(src, dst, n, importance, 15);
    case DType::Q5_1: return quantize_asymmetric<block_q5_1>(src, dst, n, importance, 31);
    default: return ref::quantize_row_weighted(type, src, dst, n, importance);
  }
}

}  // namespace hearth::quant

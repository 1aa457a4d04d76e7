#include "quant/weighted_quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/ref/k_quants_parts.h"
#include "backend/ref/kernels_ref.h"
#include "backend/ref/quants.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::quant {
namespace {

using ref::nearest_int;

constexpr int kBlock = 32;  // QK4_0 == QK4_1 == QK5_0 == QK5_1
constexpr float kGroupMaxEps = 1e-15f;

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
    const float d = ref::make_symmetric_quants(kBlock, nmax, xb, L, weight);
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
    const float d = ref::make_asymmetric_quants(kBlock, nmax, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    pack_nibbles(L, y[ib].qs);
    if constexpr (std::is_same_v<Block, block_q5_1>) {
      const uint32_t qh = fifth_bits(L);
      std::memcpy(y[ib].qh, &qh, sizeof qh);
    }
  }
}


// ggml's make_qp_quants: levels 0..nmax for non-negative x (the sub-block
// scales and mins of the k-quants), 9 candidate scales, then up to 5 passes
// moving single levels while the weighted fit improves.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    std::fill(L, L + n, uint8_t(0));
    return 0.f;
  }
  float iscale = float(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * float(L[i]);
    best_mse += quant_weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * float(is) + float(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * float(l);
      mse += quant_weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = uint8_t(l);
    const float w = quant_weights[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      float sl2 = suml2 - w * float(L[i]) * float(L[i]);
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = uint8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

constexpr int kSuper = kQK_K;

float super_block_sum_x2(const float* x) {
  float sum_x2 = 0;
  for (int j = 0; j < kSuper; ++j) sum_x2 += x[j] * x[j];
  return sum_x2;
}

void quantize_q2_K_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<block_q2_K*>(dst);
  uint8_t L[kSuper], Laux[16], Ls[kSuper / 16], Lm[kSuper / 16];
  float mins[kSuper / 16], scales[kSuper / 16], sw[kSuper / 16], weight[16];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    std::fill(sw, sw + kSuper / 16, 0.0f);
    const float sigma2 = super_block_sum_x2(x) / float(kSuper);
    for (int j = 0; j < kSuper / 16; ++j) {
      const float* qw = qw_row + kSuper * i + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      for (int l = 0; l < kSuper / 16; ++l) sw[j] += weight[l];
      scales[j] = ref::make_asymmetric_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    float dm = make_qp_quants(kSuper / 16, 15, scales, Ls, sw);
    float mm = make_qp_quants(kSuper / 16, 15, mins, Lm, sw);
    y[i].d = fp32_to_fp16(dm);
    y[i].dmin = fp32_to_fp16(mm);
    for (int j = 0; j < kSuper / 16; ++j) y[i].scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
    ref::finish_q2_K(x, y[i], L);
  }
}

void quantize_q3_K_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<block_q3_K*>(dst);
  int8_t L[kSuper], Ls[kSuper / 16];
  float scales[kSuper / 16], weight[16], sw[kSuper / 16];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    const float sigma2 = 2 * super_block_sum_x2(x) / float(kSuper);
    for (int j = 0; j < kSuper / 16; ++j) {
      const float* qw = qw_row + kSuper * i + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = ref::make_symmetric_quants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    const float d_block = ref::make_symmetric_quants(kSuper / 16, 32, scales, Ls, sw);
    int levels[kSuper / 16];
    for (int j = 0; j < kSuper / 16; ++j) levels[j] = Ls[j];
    ref::pack_q3_K_scales(levels, y[i]);
    y[i].d = fp32_to_fp16(d_block);
    ref::finish_q3_K(x, y[i], L);
  }
}

// Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with 6-bit scales and mins.
template <typename Block, int kMax>
void quantize_k4_like_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<Block*>(dst);
  uint8_t L[kSuper], Laux[32], Ls[kSuper / 32], Lm[kSuper / 32];
  float weights[32], sw[kSuper / 32], mins[kSuper / 32], scales[kSuper / 32];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    const float sigma2 = 2 * super_block_sum_x2(x) / float(kSuper);
    for (int j = 0; j < kSuper / 32; ++j) {
      const float* qw = qw_row + kSuper * i + 32 * j;
      for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = ref::make_asymmetric_quants(32, kMax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(kSuper / 32, 63, scales, Ls, sw);
    const float m_block = make_qp_quants(kSuper / 32, 63, mins, Lm, sw);
    uint8_t ls[kSuper / 32], lm[kSuper / 32];
    for (int j = 0; j < kSuper / 32; ++j) {
      ls[j] = std::min<uint8_t>(63, Ls[j]);  // Q4_K: already <= 63
      lm[j] = std::min<uint8_t>(63, Lm[j]);
    }
    ref::pack_k4_scales(ls, lm, y[i].scales);
    y[i].d = fp32_to_fp16(d_block);
    y[i].dmin = fp32_to_fp16(m_block);
    if constexpr (kMax == 15) ref::finish_q4_K(x, y[i], L);
    else ref::finish_q5_K(x, y[i], L);
  }
}

void quantize_q6_K_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<block_q6_K*>(dst);
  int8_t L[kSuper];
  float scales[kSuper / 16];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kSuper / 16; ++ib) {
      // ggml passes the importance straight through here (no sigma2 term).
      const float scale = ref::make_symmetric_quants(16, 32, x + 16 * ib, L + 16 * ib, qw_row + kSuper * i + 16 * ib);
      scales[ib] = scale;
      if (std::fabs(scale) > max_abs_scale) {
        max_abs_scale = std::fabs(scale);
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(block_q6_K));
      y[i].d = fp32_to_fp16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < kSuper / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    ref::finish_q6_K(x, y[i], L);
  }
}

int best_iq4_level(float x) {
  const int8_t* val = kValuesIq4nl;
  if (x <= float(val[0])) return 0;
  if (x >= float(val[15])) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < float(val[mav])) mu = mav;
    else ml = mav;
  }
  return x - float(val[mu - 1]) < float(val[mu]) - x ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl with importance weights and ntry = 7, for
// one super-block: IQ4_NL (super_size 32, one f16 scale) or IQ4_XS (256,
// 6-bit block scales under an f16 one).
void quantize_iq4_super_block(int super_size, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                              uint8_t* scales_l, const float* qw_super) {
  constexpr int kBlock4 = 32, kTries = 7;
  float sigma2 = 0;
  for (int j = 0; j < super_size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / float(super_size);
  std::memset(q4, 0, size_t(super_size / 2));
  *dh = fp32_to_fp16(0.f);
  uint8_t L[kQK_K];
  float scales[kQK_K / kBlock4], weight[kBlock4];
  float max_scale = 0, amax_scale = 0;
  const int n_blocks = super_size / kBlock4;
  for (int ib = 0; ib < n_blocks; ++ib) {
    const float* xb = x + ib * kBlock4;
    uint8_t* Lb = L + ib * kBlock4;
    const float* qw = qw_super + ib * kBlock4;
    for (int j = 0; j < kBlock4; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float amax = 0, max = 0;
    for (int j = 0; j < kBlock4; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / float(kValuesIq4nl[0]);
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kBlock4; ++j) {
      const int l = best_iq4_level(id * xb[j]);
      Lb[j] = uint8_t(l);
      const float q = kValuesIq4nl[l];
      sumqx += weight[j] * q * xb[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kTries; itry <= kTries; ++itry) {
      id = float(itry + kValuesIq4nl[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kBlock4; ++j) {
        const float q = kValuesIq4nl[best_iq4_level(id * xb[j])];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }
  if (n_blocks > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < n_blocks; ++ib) {
      int l = std::max(-32, std::min(31, nearest_int(id * scales[ib])));
      const float dl = d * float(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < kBlock4; ++j) L[ib * kBlock4 + j] = uint8_t(best_iq4_level(idl * x[ib * kBlock4 + j]));
      l += 32;
      const uint8_t l_l = uint8_t(l & 0xf), l_h = uint8_t(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= uint8_t(l_l << 4);
      *scales_h = uint16_t(*scales_h | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = fp32_to_fp16(scales[0]);
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
    for (int j = 0; j < super_size; ++j) L[j] = uint8_t(best_iq4_level(id * x[j]));
  }
  for (int i = 0; i < super_size / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void quantize_iq4_nl_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<block_iq4_nl*>(dst);
  for (int64_t i = 0; i < n / kQK4_NL; ++i)
    quantize_iq4_super_block(kQK4_NL, x + kQK4_NL * i, &y[i].d, y[i].qs, nullptr, nullptr, qw_row + kQK4_NL * i);
}

void quantize_iq4_xs_weighted(const float* x, void* dst, int64_t n, const float* qw_row) {
  auto* y = static_cast<block_iq4_xs*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    quantize_iq4_super_block(kQK_K, x + kQK_K * i, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l, qw_row + kQK_K * i);
}
}  // namespace

bool uses_importance_like_ggml(DType type) {
  switch (type) {
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::IQ4_NL:
    case DType::IQ4_XS:
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ3_XXS:
    case DType::IQ3_S:
    case DType::IQ1_S:
    case DType::IQ1_M:
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
      return false;
  }
}

bool can_quantize_with_importance(DType type) {
  return ref::can_quantize(type) || type == DType::IQ2_XXS || type == DType::IQ2_XS || type == DType::IQ1_S;
}

void quantize_row_with_importance(DType type, const float* src, void* dst, int64_t n, const float* importance) {
  if (importance == nullptr) return ref::quantize_row_weighted(type, src, dst, n, nullptr);
  switch (type) {
    case DType::Q4_0: return quantize_symmetric<block_q4_0>(src, dst, n, importance, 8);
    case DType::Q5_0: return quantize_symmetric<block_q5_0>(src, dst, n, importance, 16);
    case DType::Q4_1: return quantize_asymmetric<block_q4_1>(src, dst, n, importance, 15);
    case DType::Q5_1: return quantize_asymmetric<block_q5_1>(src, dst, n, importance, 31);
    case DType::Q2_K: return quantize_q2_K_weighted(src, dst, n, importance);
    case DType::Q3_K: return quantize_q3_K_weighted(src, dst, n, importance);
    case DType::Q4_K: return quantize_k4_like_weighted<block_q4_K, 15>(src, dst, n, importance);
    case DType::Q5_K: return quantize_k4_like_weighted<block_q5_K, 31>(src, dst, n, importance);
    case DType::Q6_K: return quantize_q6_K_weighted(src, dst, n, importance);
    case DType::IQ4_NL: return quantize_iq4_nl_weighted(src, dst, n, importance);
    case DType::IQ4_XS: return quantize_iq4_xs_weighted(src, dst, n, importance);
    default: return ref::quantize_row_weighted(type, src, dst, n, importance);
  }
}

}  // namespace hearth::quant

// Reference quantizers of the k-quants (ggml's quantize_row_q*_K_ref, without
// importance matrix) and of Q8_K. The scale searches below are ggml's
// algorithms; the float expressions keep ggml's operation order because the
// output bytes depend on every rounding.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/ref/k_quants_parts.h"
#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kSuper = kQK_K;
constexpr float kGroupMaxEps = 1e-15f;  // below this a group counts as all zero

// The element of x with the largest magnitude, with its sign (the first of
// equals); 0 when all are 0.
float signed_absmax(const float* x, int n) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

// Q3_K's group quantizer (ggml make_q3_quants with do_rmse): start from
// nmax/max, then up to 5 passes moving single levels while the weighted fit
// improves. Levels stored +nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  const float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * float(L[i]) * float(L[i]);
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Packs 256 2-bit levels the way Q2_K and Q3_K store them.
void pack_two_bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kSuper; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] =
          uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
  }
}

}  // namespace

float make_symmetric_quants(int n, int nmax, const float* x, int8_t* L, const float* weights) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = weights ? weights[i] : x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(step)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = weights ? weights[i] : x[i] * x[i];
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

float make_asymmetric_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                             float* min_out, uint8_t* Laux, float rmin, float rdelta, int nstep,
                             bool use_mad) {
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
  if (max == min) {
    std::fill(L, L + n, uint8_t(0));
    *min_out = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * float(step) + float(nmax)) / (max - min);
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
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        error += weights[i] * diff;
      }
      if (error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *min_out = -min;
  return scale;
}

void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* packed) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = uint8_t((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
      packed[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      packed[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

void pack_q3_K_scales(const int* levels, block_q3_K& block) {
  std::memset(block.scales, 0, sizeof(block.scales));
  for (int j = 0; j < 16; ++j) {
    const int l = levels[j];
    if (j < 8) {
      block.scales[j] = uint8_t(l & 0xf);
    } else {
      block.scales[j - 8] |= uint8_t((l & 0xf) << 4);
    }
    block.scales[j % 4 + 8] |= uint8_t((l >> 4) << (2 * (j / 4)));
  }
}

void finish_q2_K(const float* x, block_q2_K& block, uint8_t* L) {
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(block.d) * float(block.scales[j] & 0xf);
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(block.dmin) * float(block.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
  pack_two_bit(L, block.qs);
}

void finish_q3_K(const float* x, block_q3_K& block, int8_t* L) {
  int8_t unpacked[16];
  q3_k_scales(block.scales, unpacked);
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(block.d) * float(unpacked[j]);
    if (d == 0.0f) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
  // High bit of element j goes to hmask[j % 32], bit j / 32.
  std::memset(block.hmask, 0, sizeof(block.hmask));
  uint8_t low[kSuper];
  for (int j = 0; j < kSuper; ++j) {
    int level = L[j];
    if (level > 3) {
      block.hmask[j % 32] |= uint8_t(1u << (j / 32));
      level -= 4;
    }
    low[j] = uint8_t(level);
  }
  pack_two_bit(low, block.qs);
}

namespace {

// Q4_K/Q5_K: the levels against the stored 6-bit scales and mins.
template <typename Block>
void requantize_k4_like(const float* x, const Block& block, int nmax, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    k4_scale_min(j, block.scales, &sc, &m);
    const float d = fp16_to_fp32(block.d) * float(sc);
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(block.dmin) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

}  // namespace

void finish_q4_K(const float* x, block_q4_K& block, uint8_t* L) {
  requantize_k4_like(x, block, 15, L);
  uint8_t* q = block.qs;
  for (int j = 0; j < kSuper; j += 64, q += 32) {
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void finish_q5_K(const float* x, block_q5_K& block, uint8_t* L) {
  requantize_k4_like(x, block, 31, L);
  std::memset(block.qh, 0, sizeof(block.qh));
  uint8_t* ql = block.qs;
  uint8_t bit_low = 1, bit_high = 2;
  for (int chunk = 0; chunk < kSuper; chunk += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[chunk + j], l2 = L[chunk + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        block.qh[j] |= bit_low;
      }
      if (l2 > 15) {
        l2 -= 16;
        block.qh[j] |= bit_high;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    bit_low = uint8_t(bit_low << 2);
    bit_high = uint8_t(bit_high << 2);
  }
}

void finish_q6_K(const float* x, block_q6_K& block, int8_t* L) {
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(block.d) * float(block.scales[j]);
    if (d == 0.0f) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
    }
  }
  uint8_t* ql = block.ql;
  uint8_t* qh = block.qh;
  for (int j = 0; j < kSuper; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = uint8_t((q1 & 0xf) | ((q3 & 0xf) << 4));
      ql[l + 32] = uint8_t((q2 & 0xf) | ((q4 & 0xf) << 4));
      qh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

namespace {

// The scales of Q4_K and Q5_K: per 32-element group an asymmetric fit with
// weights av_x + |x|, then 6-bit scales/mins relative to the largest ones.
template <typename Block>
void quantize_k4_like(const float* x, Block& block, int nmax, float rmin, float rdelta, int nstep,
                      uint8_t* L) {
  float mins[8], scales[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_asymmetric_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                       rmin, rdelta, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
  }
  std::memset(block.scales, 0, sizeof(block.scales));
  pack_k4_scales(ls, lm, block.scales);
  block.d = fp32_to_fp16(max_scale / 63.f);
  block.dmin = fp32_to_fp16(max_min / 63.f);
}

}  // namespace

void quantize_q2_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q2_K*>(dst);
  uint8_t L[kSuper], Laux[16];
  float weights[16], mins[16], scales[16];
  constexpr float kMaxLevel = 15.f;  // 4-bit scales and mins
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    block_q2_K& block = blocks[i];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_asymmetric_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                         -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = kMaxLevel / max_scale;
      for (int j = 0; j < 16; ++j) block.scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      block.d = fp32_to_fp16(max_scale / kMaxLevel);
    } else {
      std::memset(block.scales, 0, sizeof(block.scales));
      block.d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = kMaxLevel / max_min;
      for (int j = 0; j < 16; ++j) block.scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
      block.dmin = fp32_to_fp16(max_min / kMaxLevel);
    } else {
      block.dmin = fp32_to_fp16(0.f);
    }
    finish_q2_K(x, block, L);
  }
}

void quantize_q3_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q3_K*>(dst);
  int8_t L[kSuper];
  float scales[16];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    block_q3_K& block = blocks[i];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    int levels[16] = {};
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = int8_t(nearest_int(iscale * scales[j]));
        levels[j] = std::max(-32, std::min(31, l)) + 32;
      }
      pack_q3_K_scales(levels, block);
      block.d = fp32_to_fp16(1 / iscale);
    } else {
      std::memset(block.scales, 0, sizeof(block.scales));
      block.d = fp32_to_fp16(0.f);
    }
    finish_q3_K(x, block, L);
  }
}

void quantize_q4_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q4_K*>(dst);
  uint8_t L[kSuper];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    quantize_k4_like(x, blocks[i], 15, -1.f, 0.1f, 20, L);
    finish_q4_K(x, blocks[i], L);
  }
}

void quantize_q5_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q5_K*>(dst);
  uint8_t L[kSuper];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    block_q5_K& block = blocks[i];
    quantize_k4_like(x, block, 31, -0.5f, 0.1f, 15, L);
    finish_q5_K(x, block, L);
  }
}

void quantize_q6_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q6_K*>(dst);
  int8_t L[kSuper];
  float scales[16];
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    block_q6_K& block = blocks[i];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = make_symmetric_quants(16, 32, x + 16 * ib, L + 16 * ib, nullptr);
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    const float iscale = -128.f / max_scale;
    block.d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      block.scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    }
    finish_q6_K(x, block, L);
  }
}

void quantize_q8_K(const float* x, void* dst, int64_t n) {
  auto* blocks = static_cast<block_q8_K*>(dst);
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper) {
    block_q8_K& block = blocks[i];
    float max = 0, amax = 0;
    for (int j = 0; j < kSuper; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      block.d = 0;
      std::memset(block.qs, 0, sizeof(block.qs));
      std::memset(block.bsums, 0, sizeof(block.bsums));  // ggml leaves them unset
      continue;
    }
    // -127 (not -128) keeps every level in -127..127.
    const float iscale = -127.f / max;
    for (int j = 0; j < kSuper; ++j) block.qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += block.qs[16 * j + ii];
      block.bsums[j] = int16_t(sum);
    }
    block.d = 1 / iscale;
  }
}

}  // namespace hearth::ref

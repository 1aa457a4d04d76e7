// Reference dequantization and dot products of the lattice types IQ2_XXS,
// IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M (256-element super-blocks,
// activations Q8_K). Each group of 8 (IQ2, IQ1) or 4 (IQ3) elements is one
// grid entry (iq_grids.h) with separately stored signs (IQ2/IQ3) or a shared
// +-1/8 offset (IQ1). The dequantizers follow ggml's float operation order
// (that is what makes them bit-exact); the dot products form the exact
// integer sums ggml forms and scale them once per super-block.
#include <cstring>

#include "backend/ref/iq_grids.h"
#include "backend/ref/iq_unpack.h"
#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kGroups = kQK_K / 32;  // 32-element groups per super-block

inline float sign_of(uint8_t signs, int j) { return (signs >> j) & 1 ? -1.f : 1.f; }

// sum_j level[j] * act[j] over n elements.
inline int int_dot(const int8_t* levels, const int8_t* act, int n) {
  int sum = 0;
  for (int j = 0; j < n; ++j) sum += int(levels[j]) * int(act[j]);
  return sum;
}

// Dot product for types whose unpacked form is 256 signed levels and one odd
// scale per 16 elements (IqLevels): sum over groups of scale * int dot, times
// d * act.d * kFactor.
template <typename Block, void (*kUnpack)(const Block&, IqLevels&)>
float lattice_vec_dot(int64_t n, const void* weight, const void* act, float factor) {
  const auto* w = static_cast<const Block*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.f;
  IqLevels u;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    kUnpack(w[i], u);
    int total = 0;
    for (int g = 0; g < kQK_K / 16; ++g) total += u.scales[g] * int_dot(u.levels + 16 * g, a[i].qs + 16 * g, 16);
    sum += fp16_to_fp32(w[i].d) * a[i].d * float(total);
  }
  return factor * sum;
}

}  // namespace

// ---------------------------------------------------------------- IQ2_XXS

void dequantize_iq2_xxs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq2_xxs*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < kGroups; ++ib) {
      uint32_t aux[2];
      std::memcpy(aux, x[i].qs + 4 * ib, sizeof(aux));
      const float db = d * (0.5f + float(aux[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const int index = (aux[0] >> (8 * l)) & 0xff;
        const uint8_t signs = kSignsIq2[(aux[1] >> (7 * l)) & 127];
        for (int j = 0; j < 8; ++j) y[j] = db * float(grid_byte(kIq2xxsGrid, index, j)) * sign_of(signs, j);
      }
    }
  }
}

float vec_dot_iq2_xxs(int64_t n, const void* weight, const void* act) {
  return lattice_vec_dot<block_iq2_xxs, unpack_iq2_xxs>(n, weight, act, 0.125f);
}

// ---------------------------------------------------------------- IQ2_XS

void dequantize_iq2_xs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq2_xs*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < kGroups; ++ib) {
      const float db[2] = {d * (0.5f + float(x[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib + l];
        const uint8_t signs = kSignsIq2[q >> 9];
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * float(grid_byte(kIq2xsGrid, q & 511, j)) * sign_of(signs, j);
      }
    }
  }
}

float vec_dot_iq2_xs(int64_t n, const void* weight, const void* act) {
  return lattice_vec_dot<block_iq2_xs, unpack_iq2_xs>(n, weight, act, 0.125f);
}

// ---------------------------------------------------------------- IQ2_S

void dequantize_iq2_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq2_s*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = x[i].qs + kQK_K / 8;
    for (int ib = 0; ib < kGroups; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + float(x[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int index = qs[l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * float(grid_byte(kIq2sGrid, index, j)) * sign_of(signs[l], j);
      }
    }
  }
}

float vec_dot_iq2_s(int64_t n, const void* weight, const void* act) {
  return lattice_vec_dot<block_iq2_s, unpack_iq2_s>(n, weight, act, 0.125f);
}

// ---------------------------------------------------------------- IQ3_XXS

void dequantize_iq3_xxs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq3_xxs*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* scales_and_signs = x[i].qs + kQK_K / 4;
    for (int ib = 0; ib < kGroups; ++ib, qs += 8) {
      uint32_t aux;
      std::memcpy(&aux, scales_and_signs + 4 * ib, sizeof(aux));
      const float db = d * (0.5f + float(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kSignsIq2[(aux >> (7 * l)) & 127];
        for (int j = 0; j < 4; ++j) {
          y[j] = db * float(grid_byte(kIq3xxsGrid, qs[2 * l], j)) * sign_of(signs, j);
          y[j + 4] = db * float(grid_byte(kIq3xxsGrid, qs[2 * l + 1], j)) * sign_of(signs, j + 4);
        }
      }
    }
  }
}

float vec_dot_iq3_xxs(int64_t n, const void* weight, const void* act) {
  return lattice_vec_dot<block_iq3_xxs, unpack_iq3_xxs>(n, weight, act, 0.25f);
}

// ---------------------------------------------------------------- IQ3_S

void dequantize_iq3_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq3_s*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = x[i].signs;
    for (int ib = 0; ib < kGroups; ++ib, qs += 8, signs += 4) {
      const int nibble = ib % 2 == 0 ? (x[i].scales[ib / 2] & 0xf) : (x[i].scales[ib / 2] >> 4);
      const float db = d * float(1 + 2 * nibble);
      const int qh = x[i].qh[ib];
      for (int l = 0; l < 4; ++l, y += 8) {
        const int index1 = qs[2 * l] | ((qh << (8 - 2 * l)) & 256);
        const int index2 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
        for (int j = 0; j < 4; ++j) {
          y[j] = db * float(grid_byte(kIq3sGrid, index1, j)) * sign_of(signs[l], j);
          y[j + 4] = db * float(grid_byte(kIq3sGrid, index2, j)) * sign_of(signs[l], j + 4);
        }
      }
    }
  }
}

float vec_dot_iq3_s(int64_t n, const void* weight, const void* act) {
  return lattice_vec_dot<block_iq3_s, unpack_iq3_s>(n, weight, act, 1.0f);
}

// ---------------------------------------------------------------- IQ1_S

void dequantize_iq1_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq1_s*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < kGroups; ++ib, qs += 4) {
      const uint16_t qh = x[i].qh[ib];
      const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const int index = qs[l] | (((qh >> (3 * l)) & 7) << 8);
        for (int j = 0; j < 8; ++j) y[j] = dl * (float(int8_t(grid_byte(kIq1sGrid, index, j))) + delta);
      }
    }
  }
}

float vec_dot_iq1_s(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_iq1_s*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.f;
  Iq1Levels u;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_iq1_s(w[i], u);
    int grid_sum = 0, delta_sum = 0;
    for (int g = 0; g < kQK_K / 16; ++g) {
      grid_sum += u.scales[g] * int_dot(u.levels + 16 * g, a[i].qs + 16 * g, 16);
      delta_sum += u.scales[g] * u.deltas[g] * a[i].bsums[g];
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float(grid_sum) + kIq1Delta * float(delta_sum));
  }
  return sum;
}

// ---------------------------------------------------------------- IQ1_M

void dequantize_iq1_m(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq1_m*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, x[i].scales, sizeof(sc));
    const float d = fp16_to_fp32(iq1_m_super_scale(sc));
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int ib = 0; ib < kGroups; ++ib, qs += 4, qh += 2) {
      const float dl[2] = {d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1),
                           d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t h = qh[l / 2];
        const int index = qs[l] | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700);
        const float delta = (l % 2 == 0 ? h & 0x08 : h & 0x80) ? -kIq1Delta : kIq1Delta;
        for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (float(int8_t(grid_byte(kIq1sGrid, index, j))) + delta);
      }
    }
  }
}

float vec_dot_iq1_m(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_iq1_m*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.f;
  Iq1Levels u;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, w[i].scales, sizeof(sc));
    unpack_iq1_m(w[i], u);
    // IQ1_M's offset sign is per 8 elements, so its sums use the activation
    // itself rather than the 16-element bsums.
    int grid_sum = 0, delta_sum = 0;
    for (int g = 0; g < kQK_K / 16; ++g) {
      grid_sum += u.scales[g] * int_dot(u.levels + 16 * g, a[i].qs + 16 * g, 16);
      for (int half = 0; half < 2; ++half) {
        int act_sum = 0;
        for (int j = 0; j < 8; ++j) act_sum += a[i].qs[16 * g + 8 * half + j];
        delta_sum += u.scales[g] * u.deltas8[2 * g + half] * act_sum;
      }
    }
    sum += fp16_to_fp32(iq1_m_super_scale(sc)) * a[i].d * (float(grid_sum) + kIq1Delta * float(delta_sum));
  }
  return sum;
}

}  // namespace hearth::ref

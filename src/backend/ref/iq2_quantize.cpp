// IQ2_S, IQ2_XS and IQ2_XXS quantization as ggml's quantize_row_iq2_s_impl,
// quantize_row_iq2_xs_impl and quantize_row_iq2_xxs_impl do it (IQ2_XXS:
// groups of 32 starting from make_qp_quants' scale, on the 256-point grid). Each 16 elements: signs split off (IQ2_XS
// keeps an even number of negatives per 8, the eighth sign implied), the
// magnitudes fit to groups of 8 levels {1, 3, 5} on the 1024-point (IQ2_S)
// or 512-point (IQ2_XS) grid over 19 scales, off-grid points replaced by a
// near grid neighbour (IQ2_S: the closest distance; IQ2_XS: the two
// closest), then 4-bit odd block scales relative to max_scale / 31. IQ2_XS
// needs an importance matrix (ggml refuses to quantize it without one).
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/ref/iq_grids.h"
#include "backend/ref/kernels_ref.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kMaxQ = 3;           // levels 0..2 -> odd values 1, 3, 5
constexpr int kMapSize = 43692;    // codes of 8 x 2-bit levels up to 2222...2 (base 4)
constexpr float kGroupMaxEps = 1e-8f;

struct Iq2Tables {
  std::vector<uint64_t> grid;  // odd levels 1, 3, 5 per byte
  std::vector<int> map;        // code -> grid index, or -(offset+1) into neighbours
  std::vector<uint16_t> neighbours;
};

int level_of_grid_byte(uint32_t byte) { return byte == 8 ? 0 : byte == 25 ? 1 : 2; }

Iq2Tables build_tables(const uint64_t* source, int grid_size, int want) {
  Iq2Tables t;
  t.grid.resize(size_t(grid_size));
  t.map.assign(kMapSize, -1);
  for (int k = 0; k < grid_size; ++k) {
    uint64_t packed = 0;
    int code = 0;
    for (int i = 0; i < 8; ++i) {
      const int l = level_of_grid_byte(uint32_t(source[k] >> (8 * i)) & 0xff);
      packed |= uint64_t(2 * l + 1) << (8 * i);
      code |= l << (2 * i);
    }
    t.grid[k] = packed;
    t.map[code] = k;
  }
  // Neighbours: every grid point at the `want` smallest distances, by
  // distance then index (what ggml's sort by (distance, index) keeps).
  std::vector<int> dist(static_cast<size_t>(grid_size));
  for (int i = 0; i < kMapSize; ++i) {
    if (t.map[i] >= 0) continue;
    int pos[8];
    for (int k = 0; k < 8; ++k) pos[k] = 2 * ((i >> (2 * k)) & 3) + 1;
    int min_d2 = INT32_MAX;
    for (int j = 0; j < grid_size; ++j) {
      int d2 = 0;
      for (int k = 0; k < 8; ++k) {
        const int g = int(int8_t(t.grid[j] >> (8 * k)));
        d2 += (g - pos[k]) * (g - pos[k]);
      }
      dist[j] = d2;
      min_d2 = std::min(min_d2, d2);
    }
    int second_d2 = INT32_MAX;
    for (int j = 0; j < grid_size; ++j)
      if (dist[j] > min_d2) second_d2 = std::min(second_d2, dist[j]);
    const size_t start = t.neighbours.size();
    t.map[i] = -int(start + 1);
    t.neighbours.push_back(0);
    for (int j = 0; j < grid_size; ++j)
      if (dist[j] == min_d2) t.neighbours.push_back(uint16_t(j));
    if (want > 1)
      for (int j = 0; j < grid_size; ++j)
        if (dist[j] == second_d2) t.neighbours.push_back(uint16_t(j));
    t.neighbours[start] = uint16_t(t.neighbours.size() - start - 1);
  }
  return t;
}

const Iq2Tables& tables_s() {
  static const Iq2Tables instance = build_tables(kIq2sGrid, 1024, 1);  // immutable after first use
  return instance;
}

const Iq2Tables& tables_xxs() {
  static const Iq2Tables instance = build_tables(kIq2xxsGrid, 256, 2);
  return instance;
}

const Iq2Tables& tables_xs() {
  static const Iq2Tables instance = build_tables(kIq2xsGrid, 512, 2);
  return instance;
}

// What differs between the two types.
struct Iq2Variant {
  bool xs;
};

int best_neighbour(const Iq2Tables& t, int code, const float* xval, const float* w, float scale, int8_t* L) {
  const uint16_t* list = t.neighbours.data() + (-t.map[code] - 1);
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int j = 1; j <= list[0]; ++j) {
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = float(int8_t(t.grid[list[j]] >> (8 * i)));
      const float diff = scale * q - xval[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) best_d2 = d2, best = list[j];
  }
  if (best < 0) fail("IQ2_S quantization found no grid neighbour (corrupt tables)");
  for (int i = 0; i < 8; ++i) L[i] = int8_t((int8_t(t.grid[best] >> (8 * i)) - 1) / 2);
  return best;
}

int code_of(const int8_t* L) {
  int u = 0;
  for (int i = 0; i < 8; ++i) u |= L[i] << (2 * i);
  return u;
}

// Fits the 16 scales' groups of one super-block; `store` writes the grid
// index and 8 sign bits of each group of 8; returns max_scale and fills scales.
template <typename Store>
float fit_block(const Iq2Tables& t, Iq2Variant v, const float* xbl, const float* importance, float* scales, Store&& store) {
  float weight[16], xval[16], waux[16];
  int8_t L[16], Laux[16];
  bool on_grid[2], on_grid_aux[2];
  uint8_t block_signs[2];
  float max_scale = 0;
  float sumx2 = 0;
  for (int i = 0; i < kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  const float sigma2 = (v.xs ? 1 : 2) * sumx2 / kQK_K;

  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* xb = xbl + 16 * ib;
    for (int i = 0; i < 16; ++i)
      weight[i] = importance ? importance[16 * ib + i] * std::sqrt(sigma2 + xb[i] * xb[i]) : 0.25f * sigma2 + xb[i] * xb[i];
    for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 2; ++k) {
      block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, v.xs, xval + 8 * k);
    }
    float max = xval[0];
    for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
    std::memset(L, 0, sizeof(L));
    if (max < (v.xs ? 1e-15f : kGroupMaxEps)) {
      scales[ib] = 0;
      continue;
    }
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    on_grid[0] = on_grid[1] = true;
    for (int is = -9; is <= 9; ++is) {
      const float id = (2 * kMaxQ - 1 + float(is) * 0.1f) / max;
      const float this_scale = 1 / id;
      for (int k = 0; k < 2; ++k) {
        for (int i = 0; i < 8; ++i)
          Laux[8 * k + i] = int8_t(std::max(0, std::min(kMaxQ - 1, nearest_int(0.5f * (id * xval[8 * k + i] - 1)))));
        const int u = code_of(Laux + 8 * k);
        on_grid_aux[k] = t.map[u] >= 0;
        if (!on_grid_aux[k]) best_neighbour(t, u, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
      }
      float sumqx = 0, sumq2 = 0;
      for (int i = 0; i < 16; ++i) {
        const float w = weight[i];
        const float q = float(2 * Laux[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        scale = sumqx / sumq2;
        best = scale * sumqx;
        std::memcpy(L, Laux, sizeof(L));
        on_grid[0] = on_grid_aux[0], on_grid[1] = on_grid_aux[1];
      }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
      const float id = 1 / scale;
      for (int k = 0; k < 2; ++k) {
        if (on_grid[k]) continue;
        for (int i = 0; i < 8; ++i)
          L[8 * k + i] = int8_t(std::max(0, std::min(kMaxQ - 1, nearest_int(0.5f * (id * xval[8 * k + i] - 1)))));
        const int u = code_of(L + 8 * k);
        if (t.map[u] < 0) best_neighbour(t, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
      }
      float sumqx = 0, sumq2 = 0;
      for (int i = 0; i < 16; ++i) {
        const float w = weight[i];
        const float q = float(2 * L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
      }
      if (sumq2 > 0) scale = sumqx / sumq2;
    }
    if (scale < 0) {  // never expected; keep the stored scale non-negative
      scale = -scale;
      for (int k = 0; k < 2; ++k) block_signs[k] = uint8_t(v.xs ? (~block_signs[k] & 127) : ~block_signs[k]);
    }
    for (int k = 0; k < 2; ++k) {
      const int index = t.map[code_of(L + 8 * k)];
      if (index < 0) fail("IQ2 quantization produced a point off the grid");
      store(2 * ib + k, index, block_signs[k]);
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  return max_scale;
}

void store_scales(float max_scale, const float* scales, uint8_t* out) {
  const float id = 1 / (max_scale / 31);
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const int l = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
    out[ib / 2] = uint8_t(ib % 2 == 0 ? l : (out[ib / 2] | (l << 4)));
  }
}

void quantize_block_s(const Iq2Tables& t, const float* xbl, const float* importance, block_iq2_s& y) {
  std::memset(&y, 0, sizeof(y));
  float scales[kQK_K / 16];
  const float max_scale = fit_block(t, {false}, xbl, importance, scales, [&](int i8, int index, uint8_t signs) {
    y.qs[i8] = uint8_t(index & 255);
    y.qh[i8 / 4] = uint8_t(y.qh[i8 / 4] | ((index >> 8) << (2 * (i8 % 4))));
    y.qs[kQK_K / 8 + i8] = signs;
  });
  if (max_scale == 0.f) return;
  y.d = fp32_to_fp16(max_scale / 31 * 0.9875f);  // ggml's fudge factor
  store_scales(max_scale, scales, y.scales);
}

void quantize_block_xs(const Iq2Tables& t, const float* xbl, const float* importance, block_iq2_xs& y) {
  std::memset(&y, 0, sizeof(y));
  float scales[kQK_K / 16];
  const float max_scale = fit_block(t, {true}, xbl, importance, scales, [&](int i8, int index, uint8_t signs) {
    y.qs[i8] = uint16_t(index | (signs << 9));
  });
  if (max_scale == 0.f) {
    std::memset(y.qs, 0, sizeof(y.qs));
    return;
  }
  y.d = fp32_to_fp16(max_scale / 31);
  store_scales(max_scale, scales, y.scales);
}


// ggml's make_qp_quants: non-negative levels 0..nmax for x >= 0 with
// weights w, a 9-scale search then up to 5 rounds of coordinate descent;
// returns the scale (IQ2_XXS uses it only as its starting point).
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* w) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < 1e-15f) {
    std::memset(L, 0, size_t(n));
    return 0.f;
  }
  float iscale = float(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += w[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * float(is) + float(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * float(l);
      mse += w[i] * diff * diff;
    }
    if (mse < best_mse) best_mse = mse, iscale = iscale_is;
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = uint8_t(l);
    sumlx += w[i] * x[i] * float(l);
    suml2 += w[i] * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      float slx = sumlx - w[i] * x[i] * L[i];
      float sl2 = suml2 - w[i] * L[i] * L[i];
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w[i] * x[i] * float(new_l);
          sl2 += w[i] * float(new_l) * float(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = uint8_t(new_l), sumlx = slx, suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

void quantize_block_xxs(const Iq2Tables& t, const float* xbl, const float* importance, block_iq2_xxs& y) {
  uint32_t q2[2 * (kQK_K / 32)] = {};
  float scales[kQK_K / 32], weight[32], xval[32], waux[32];
  int8_t L[32], Laux[32];
  uint8_t block_signs[4];
  y.d = fp32_to_fp16(0.f);
  float max_scale = 0, sumx2 = 0;
  for (int i = 0; i < kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  const float sigma2 = sumx2 / kQK_K;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = xbl + 32 * ib;
    for (int i = 0; i < 32; ++i) weight[i] = importance[32 * ib + i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 4; ++k) {
      block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);
    }
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
    if (max < 1e-15f) {
      scales[ib] = 0;
      continue;
    }
    float scale = make_qp_quants(32, kMaxQ + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
    const float eff_max = scale * kMaxQ;
    if (eff_max <= 0) {
      scales[ib] = 0;
      continue;
    }
    float best = 0;
    for (int is = -6; is <= 6; ++is) {
      const float id = (2 * kMaxQ - 1 + float(is) * 0.1f) / eff_max;
      const float this_scale = 1 / id;
      for (int k = 0; k < 4; ++k) {
        for (int i = 0; i < 8; ++i)
          Laux[8 * k + i] = int8_t(std::max(0, std::min(kMaxQ - 1, nearest_int(0.5f * (id * xval[8 * k + i] - 1)))));
        const int u = code_of(Laux + 8 * k);
        if (t.map[u] < 0) best_neighbour(t, u, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
      }
      float sumqx = 0, sumq2 = 0;
      for (int i = 0; i < 32; ++i) {
        const float w = weight[i];
        const float q = float(2 * Laux[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        scale = sumqx / sumq2;
        best = scale * sumqx;
        std::memcpy(L, Laux, sizeof(L));
      }
    }
    if (scale > 0) {
      const float id = 1 / scale;
      for (int k = 0; k < 4; ++k) {
        int8_t levels[8];
        for (int i = 0; i < 8; ++i)
          levels[i] = int8_t(std::max(0, std::min(kMaxQ - 1, nearest_int(0.5f * (id * xval[8 * k + i] - 1)))));
        const int u = code_of(levels);
        int index = t.map[u];
        if (index < 0) index = best_neighbour(t, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
        for (int i = 0; i < 8; ++i) L[8 * k + i] = int8_t((int8_t(t.grid[index] >> (8 * i)) - 1) / 2);
      }
      float sumqx = 0, sumq2 = 0;
      for (int i = 0; i < 32; ++i) {
        const float w = weight[i];
        const float q = float(2 * L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
      }
      if (sumq2 > 0) scale = sumqx / sumq2;
    }
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 4; ++k) block_signs[k] = uint8_t(~block_signs[k] & 127);
    }
    for (int k = 0; k < 4; ++k) {
      const int index = t.map[code_of(L + 8 * k)];
      if (index < 0) fail("IQ2_XXS quantization produced a point off the grid");
      q2[2 * ib] |= uint32_t(index) << (8 * k);
      q2[2 * ib + 1] |= uint32_t(block_signs[k]) << (7 * k);
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (max_scale == 0.f) {
    std::memset(y.qs, 0, sizeof(y.qs));
    return;
  }
  const float d = max_scale / 31;
  y.d = fp32_to_fp16(d);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const int l = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
    q2[2 * ib + 1] |= uint32_t(l) << 28;
  }
  std::memcpy(y.qs, q2, sizeof(q2));
}

}  // namespace

void quantize_iq2_s_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  const Iq2Tables& t = tables_s();
  auto* y = static_cast<block_iq2_s*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    quantize_block_s(t, x + i * kQK_K, importance ? importance + i * kQK_K : nullptr, y[i]);
}

void quantize_iq2_xxs_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  if (importance == nullptr) fail("IQ2_XXS quantization needs an importance matrix (llama-imatrix computes one)");
  const Iq2Tables& t = tables_xxs();
  auto* y = static_cast<block_iq2_xxs*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_xxs(t, x + i * kQK_K, importance + i * kQK_K, y[i]);
}

void quantize_iq2_xs_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  if (importance == nullptr) fail("IQ2_XS quantization needs an importance matrix (llama-imatrix computes one)");
  const Iq2Tables& t = tables_xs();
  auto* y = static_cast<block_iq2_xs*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_xs(t, x + i * kQK_K, importance + i * kQK_K, y[i]);
}

void quantize_iq2_s(const float* x, void* dst, int64_t n) { quantize_iq2_s_weighted(x, dst, n, nullptr); }

}  // namespace hearth::ref

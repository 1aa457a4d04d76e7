// IQ3_XXS and IQ3_S quantization as ggml's quantize_row_iq3_xxs_impl and
// quantize_row_iq3_s_impl do it (so files
// match llama-quantize's byte for byte, with or without an importance
// matrix). Each 32 elements: signs are split off (an even number of
// negatives per 8, flipping the least important element when needed), the
// magnitudes are fit to groups of 4 odd levels 1..15 on the 256-point grid,
// searching 31 scales; points off the grid go to their nearest grid
// neighbours (precomputed once from the grid). The 8 block scales are then
// stored as 4-bit odd multiples of max_scale / 31.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/ref/iq_grids.h"
#include "backend/ref/kernels_ref.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kMaxQ = 8;            // levels 0..7 -> odd values 1..15
constexpr int kMapSize = 4096;      // every 4 x 3-bit point
constexpr float kGroupMaxEps = 1e-8f;

// The grid as odd levels (1..15) per byte, the map from a 12-bit point code to
// its grid index (or -(offset+1) into the neighbour lists), and the lists.
struct Iq3Tables {
  std::vector<uint32_t> grid;
  int map[kMapSize];
  std::vector<uint16_t> neighbours;  // per off-grid point: count, then indices
};

int point_code(const int8_t* levels) {
  int u = 0;
  for (int i = 0; i < 4; ++i) u |= ((levels[i] - 1) / 2) << (3 * i);
  return u;
}

// `divisor`: the grid's bytes over the odd level (IQ3_XXS stores about 4x the
// level, 62 for 15; IQ3_S the level itself). `want`: how many of the nearest
// distances an off-grid point keeps as neighbours (ggml: 2 for the 256-point
// grid, 3 for the 512-point one).
Iq3Tables build_tables(const uint32_t* source, int size, uint32_t divisor, int want) {
  Iq3Tables t;
  t.grid.resize(size_t(size));
  for (int k = 0; k < size; ++k) {
    uint32_t packed = 0;
    for (int i = 0; i < 4; ++i) packed |= (((source[k] >> (8 * i)) & 0xff) / divisor) << (8 * i);
    t.grid[k] = packed;
  }
  std::fill(std::begin(t.map), std::end(t.map), -1);
  for (int k = 0; k < size; ++k) {
    int8_t levels[4];
    std::memcpy(levels, &t.grid[k], 4);
    t.map[point_code(levels)] = k;
  }
  // For each point off the grid: the grid points at the `want`
  // smallest squared distances (ties by index, as ggml's qsort comparator).
  std::vector<std::pair<int, int>> dist(size_t(size), {0, 0});
  for (int i = 0; i < kMapSize; ++i) {
    if (t.map[i] >= 0) continue;
    int8_t pos[4];
    for (int k = 0; k < 4; ++k) pos[k] = int8_t(2 * ((i >> (3 * k)) & 7) + 1);
    for (int j = 0; j < size; ++j) {
      int8_t g[4];
      std::memcpy(g, &t.grid[j], 4);
      int d2 = 0;
      for (int k = 0; k < 4; ++k) d2 += (g[k] - pos[k]) * (g[k] - pos[k]);
      dist[j] = {d2, j};
    }
    std::sort(dist.begin(), dist.end());
    const size_t start = t.neighbours.size();
    t.map[i] = -int(start + 1);
    t.neighbours.push_back(0);
    int d2 = dist[0].first, have = 1, n = 0;
    for (int j = 0; j < size; ++j) {
      if (dist[j].first > d2) {
        if (have == want) break;
        d2 = dist[j].first;
        ++have;
      }
      t.neighbours.push_back(uint16_t(dist[j].second));
      ++n;
    }
    t.neighbours[start] = uint16_t(n);
  }
  return t;
}

const Iq3Tables& tables_xxs() {
  static const Iq3Tables instance = build_tables(kIq3xxsGrid, 256, 4, 2);  // immutable after first use
  return instance;
}

const Iq3Tables& tables_s() {
  static const Iq3Tables instance = build_tables(kIq3sGrid, 512, 1, 3);
  return instance;
}

// The neighbour of an off-grid point that best fits xval (weighted by w) at
// `scale`; writes its levels (0..7) to L.
int best_neighbour(const Iq3Tables& t, int code, const float* xval, const float* w, float scale, int8_t* L) {
  const uint16_t* list = t.neighbours.data() + (-t.map[code] - 1);
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int j = 1; j <= list[0]; ++j) {
    int8_t g[4];
    std::memcpy(g, &t.grid[list[j]], 4);
    float d2 = 0;
    for (int i = 0; i < 4; ++i) {
      const float diff = scale * float(g[i]) - xval[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) best_d2 = d2, best = list[j];
  }
  if (best < 0) fail("IQ3_XXS quantization found no grid neighbour (corrupt tables)");
  int8_t g[4];
  std::memcpy(g, &t.grid[best], 4);
  for (int i = 0; i < 4; ++i) L[i] = int8_t((g[i] - 1) / 2);
  return best;
}

int levels_code(const int8_t* L) {
  int u = 0;
  for (int i = 0; i < 4; ++i) u |= L[i] << (3 * i);
  return u;
}

// Levels (0..7) of 4 magnitudes at inverse scale id.
void round_levels(const float* xval, float id, int8_t* L) {
  for (int i = 0; i < 4; ++i) L[i] = int8_t(std::max(0, std::min(kMaxQ - 1, nearest_int(0.5f * (id * xval[i] - 1)))));
}

// The two IQ3 variants differ in small ways: IQ3_XXS keeps an even number
// of negative signs per 8 (the eighth sign is implied), treats groups whose
// max is below 1e-8 as zero, searches 31 scales and re-fits only the groups
// that were off the grid; IQ3_S stores all 8 signs, searches 19 scales and
// re-fits every group.
struct Iq3Variant {
  bool xxs;
};

// Fits one 32-element group: grid indices of its 8 groups of 4 (`index`),
// sign masks of its 4 groups of 8 (`signs`); returns the scale, or a
// negative value for a group that is all zero (nothing stored).
float fit_group(const Iq3Tables& t, Iq3Variant v, const float* xb, const float* weight, int* index, uint8_t* signs) {
  float xval[32], waux[32];
  int8_t L[32], Laux[32];
  bool on_grid[8], on_grid_aux[8];
  for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
  for (int k = 0; k < 4; ++k) {
    signs[k] = split_signs(xb + 8 * k, weight + 8 * k, v.xxs, xval + 8 * k);
  }
  float max = xval[0];
  for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
  std::memset(L, 0, sizeof(L));
  if (v.xxs ? max < kGroupMaxEps : max == 0.f) return -1.f;
  float best = 0;
  float scale = max / (2 * kMaxQ - 1);
  std::fill(std::begin(on_grid), std::end(on_grid), v.xxs);
  const int steps = v.xxs ? 15 : 9;
  for (int is = -steps; is <= steps; ++is) {
    const float id = (2 * kMaxQ - 1 + float(is) * 0.2f) / max;
    const float this_scale = 1 / id;
    for (int k = 0; k < 8; ++k) {
      round_levels(xval + 4 * k, id, Laux + 4 * k);
      const int u = levels_code(Laux + 4 * k);
      on_grid_aux[k] = t.map[u] >= 0;
      if (!on_grid_aux[k]) best_neighbour(t, u, xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k);
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
      std::memcpy(on_grid, on_grid_aux, sizeof(on_grid));
    }
  }
  int n_off_grid = 0;
  for (int k = 0; k < 8; ++k) n_off_grid += !on_grid[k];
  if (n_off_grid > 0 && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < 8; ++k) {
      if (v.xxs && on_grid[k]) continue;
      int8_t levels[4];
      round_levels(xval + 4 * k, id, levels);
      const int u = levels_code(levels);
      int grid_index = t.map[u];
      if (grid_index < 0) grid_index = best_neighbour(t, u, xval + 4 * k, waux + 4 * k, scale, L + 4 * k);
      int8_t g[4];
      std::memcpy(g, &t.grid[grid_index], 4);
      for (int i = 0; i < 4; ++i) L[4 * k + i] = int8_t((g[i] - 1) / 2);
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
  if (scale < 0) {  // never expected; keep the stored scale non-negative
    scale = -scale;
    for (int k = 0; k < 4; ++k) signs[k] = uint8_t(v.xxs ? (~signs[k] & 127) : ~signs[k]);
  }
  for (int k = 0; k < 8; ++k) {
    index[k] = t.map[levels_code(L + 4 * k)];
    if (index[k] < 0) fail("IQ3 quantization produced a point off the grid");
  }
  return scale;
}

// Element weights of one 32-group: importance * sqrt(sigma2 + x^2), or x^2.
void group_weights(const float* xb, const float* importance, float sigma2, float* weight) {
  for (int i = 0; i < 32; ++i) weight[i] = importance ? importance[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
}

float block_sigma2(const float* xbl) {
  float sumx2 = 0;
  for (int i = 0; i < kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  return 2 * sumx2 / kQK_K;
}

void quantize_block_xxs(const Iq3Tables& t, const float* xbl, const float* importance, block_iq3_xxs& y) {
  uint8_t grid_bytes[kQK_K / 4] = {};
  uint32_t scales_and_signs[kQK_K / 32] = {};
  float scales[kQK_K / 32], weight[32];
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  y.d = fp32_to_fp16(0.f);
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    group_weights(xbl + 32 * ib, importance ? importance + 32 * ib : nullptr, sigma2, weight);
    int index[8];
    uint8_t signs[4];
    const float scale = fit_group(t, {true}, xbl + 32 * ib, weight, index, signs);
    if (scale < 0) {
      scales[ib] = 0;
      continue;
    }
    for (int k = 0; k < 8; ++k) grid_bytes[8 * ib + k] = uint8_t(index[k]);
    scales_and_signs[ib] = uint32_t(signs[0]) | uint32_t(signs[1]) << 7 | uint32_t(signs[2]) << 14 | uint32_t(signs[3]) << 21;
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (max_scale == 0.f) {
    std::memset(y.qs, 0, sizeof(y.qs));
    return;
  }
  const float d = max_scale / 31;
  y.d = fp32_to_fp16(d * 1.0125f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const int l = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
    scales_and_signs[ib] |= uint32_t(l) << 28;
  }
  std::memcpy(y.qs, grid_bytes, sizeof(grid_bytes));
  std::memcpy(y.qs + kQK_K / 4, scales_and_signs, sizeof(scales_and_signs));
}

void quantize_block_s(const Iq3Tables& t, const float* xbl, const float* importance, block_iq3_s& y) {
  std::memset(&y, 0, sizeof(y));
  float scales[kQK_K / 32], weight[32];
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  // ggml advances its qs and signs write positions only for groups it
  // stores, so an all-zero group shifts the later groups' indices and signs
  // down (while qh and the scales keep their places); files match only if
  // this is reproduced.
  int stored = 0;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    group_weights(xbl + 32 * ib, importance ? importance + 32 * ib : nullptr, sigma2, weight);
    int index[8];
    uint8_t signs[4];
    const float scale = fit_group(t, {false}, xbl + 32 * ib, weight, index, signs);
    if (scale < 0) {
      scales[ib] = 0;
      continue;
    }
    for (int k = 0; k < 8; ++k) {
      y.qs[8 * stored + k] = uint8_t(index[k] & 255);
      y.qh[ib] = uint8_t(y.qh[ib] | ((index[k] >> 8) << k));
    }
    std::memcpy(y.signs + 4 * stored, signs, 4);
    ++stored;
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (max_scale == 0.f) return;
  const float d = max_scale / 31;
  y.d = fp32_to_fp16(d * 1.033f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ib += 2) {
    const int l1 = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
    const int l2 = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib + 1] - 1))));
    y.scales[ib / 2] = uint8_t(l1 | (l2 << 4));
  }
}

}  // namespace

void quantize_iq3_xxs_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  const Iq3Tables& t = tables_xxs();
  auto* y = static_cast<block_iq3_xxs*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    quantize_block_xxs(t, x + i * kQK_K, importance ? importance + i * kQK_K : nullptr, y[i]);
}

void quantize_iq3_s_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  const Iq3Tables& t = tables_s();
  auto* y = static_cast<block_iq3_s*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    quantize_block_s(t, x + i * kQK_K, importance ? importance + i * kQK_K : nullptr, y[i]);
}

void quantize_iq3_s(const float* x, void* dst, int64_t n) { quantize_iq3_s_weighted(x, dst, n, nullptr); }

void quantize_iq3_xxs(const float* x, void* dst, int64_t n) { quantize_iq3_xxs_weighted(x, dst, n, nullptr); }

}  // namespace hearth::ref

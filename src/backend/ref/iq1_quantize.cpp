// IQ1_S and IQ1_M quantization as ggml's quantize_row_iq1_s_impl and
// quantize_row_iq1_m_impl do it. Each group (32 elements for IQ1_S, 16 for
// IQ1_M) takes levels -1, 0, +1 shifted by +-1/8 (IQ1_S: one shift per group;
// IQ1_M: one per half group): the elements sorted by value, every pair of
// split points between the three levels is scored exactly by the weighted
// least-squares scale, and the best split's groups of 8 levels are mapped to
// the 2048-point grid (off-grid codes replaced by the neighbour, among those
// at the three smallest distances, that fits best at that scale). Then 3-bit
// odd group scales relative to max_scale / 15, with ggml's fudge factors.
// IQ1_S needs an importance matrix (ggml asserts one); IQ1_M weighs by x^2
// without one.
#include <algorithm>
#include <array>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/ref/iq_grids.h"
#include "backend/ref/kernels_ref.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr int kMapSize = 43692;  // codes of 8 x 2-bit levels up to 2222...2 (base 4)
constexpr int kGridSize = 2048;
constexpr int kNeighbourDistances = 3;  // ggml keeps the points at the 3 smallest distances
constexpr float kEpsS = 1e-12f;         // ggml's GROUP_MAX_EPS_IQ1_S
constexpr float kEpsM = 1e-7f;          // GROUP_MAX_EPS_IQ1_M

// The grid as levels 0..2 per element (ggml stores them as bytes 1, 3, 5),
// the code -> grid index map, and each off-grid code's neighbour list.
struct Iq1Tables {
  std::vector<std::array<int8_t, 8>> levels;  // 0, 1, 2
  std::vector<int> map;                       // code -> index, or -(offset+1) into neighbours
  std::vector<uint16_t> neighbours;           // count, then indices by (distance, index)
};

Iq1Tables build_tables() {
  Iq1Tables t;
  t.levels.resize(kGridSize);
  t.map.assign(kMapSize, -1);
  for (int k = 0; k < kGridSize; ++k) {
    int code = 0;
    for (int i = 0; i < 8; ++i) {
      const int l = int(int8_t(grid_byte(kIq1sGrid, k, i))) + 1;
      t.levels[k][i] = int8_t(l);
      code |= l << (2 * i);
    }
    t.map[code] = k;
  }
  std::vector<int> dist(kGridSize);
  for (int i = 0; i < kMapSize; ++i) {
    if (t.map[i] >= 0) continue;
    int pos[8];
    for (int k = 0; k < 8; ++k) pos[k] = 2 * ((i >> (2 * k)) & 3) + 1;
    for (int j = 0; j < kGridSize; ++j) {
      int d2 = 0;
      for (int k = 0; k < 8; ++k) {
        const int diff = 2 * t.levels[j][k] + 1 - pos[k];
        d2 += diff * diff;
      }
      dist[j] = d2;
    }
    // The three smallest distinct distances; the list holds every point at
    // them, by distance then index (ggml's qsort by (distance, index)).
    int wanted[kNeighbourDistances];
    int have = 0, floor = -1;
    for (; have < kNeighbourDistances; ++have) {
      int next = INT_MAX;
      for (int d : dist)
        if (d > floor) next = std::min(next, d);
      if (next == INT_MAX) break;
      wanted[have] = floor = next;
    }
    const size_t start = t.neighbours.size();
    t.map[i] = -int(start + 1);
    t.neighbours.push_back(0);
    for (int w = 0; w < have; ++w)
      for (int j = 0; j < kGridSize; ++j)
        if (dist[j] == wanted[w]) t.neighbours.push_back(uint16_t(j));
    t.neighbours[start] = uint16_t(t.neighbours.size() - start - 1);
  }
  return t;
}

const Iq1Tables& tables() {
  static const Iq1Tables instance = build_tables();  // immutable after first use
  return instance;
}

// ggml's iq1_find_best_neighbour2: the neighbour of an off-grid code with the
// smallest weighted squared error at `scale`, levels mapped through `xx`.
int best_neighbour(const Iq1Tables& t, int code, const float* xval, const float* weight, float scale, const float* xx,
                   int8_t* L) {
  const uint16_t* list = t.neighbours.data() + (-t.map[code] - 1);
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int j = 1; j <= list[0]; ++j) {
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = xx[t.levels[list[j]][i]];
      const float diff = scale * q - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) best_d2 = d2, best = list[j];
  }
  if (best < 0) fail("IQ1 quantization found no grid neighbour (non-finite weights or values?)");
  for (int i = 0; i < 8; ++i) L[i] = t.levels[best][i];
  return best;
}

int code_of(const int8_t* L) {
  int u = 0;
  for (int i = 0; i < 8; ++i) u |= L[i] << (2 * i);
  return u;
}

// The group's elements in ascending order of value, as ggml's qsort of
// (value, index) pairs leaves them: the same C library sort with the same
// comparison, so ties land where they land in llama-quantize.
struct ValueIndex {
  float value;
  int32_t index;
};
static_assert(sizeof(ValueIndex) == 2 * sizeof(float));

int compare_values(const void* left, const void* right) {
  const float l = static_cast<const ValueIndex*>(left)->value;
  const float r = static_cast<const ValueIndex*>(right)->value;
  return l < r ? -1 : l > r ? 1 : 0;
}

void sort_group(const float* xb, int n, ValueIndex* order) {
  for (int j = 0; j < n; ++j) order[j] = {xb[j], j};
  std::qsort(order, size_t(n), sizeof(ValueIndex), compare_values);
}

// Maps the groups of 8 of levels L (one block of `n` elements) to grid
// indices; `shift_of(k)` gives the level values of group k. Off-grid codes
// take their best neighbour; returns whether all were on the grid.
template <typename ShiftOf>
bool to_grid(const Iq1Tables& t, int n, const float* xb, const float* weight, float scale, int8_t* L, uint16_t* index,
             ShiftOf&& shift_of) {
  bool all_on_grid = true;
  for (int k = 0; k < n / 8; ++k) {
    const int u = code_of(L + 8 * k);
    int grid_index = t.map[u];
    if (grid_index < 0) {
      all_on_grid = false;
      grid_index = best_neighbour(t, u, xb + 8 * k, weight + 8 * k, scale, shift_of(k), L + 8 * k);
    }
    index[k] = uint16_t(grid_index);
  }
  return all_on_grid;
}

// The least-squares scale of the chosen grid points (ggml keeps the old one
// unless both sums are positive).
template <typename ShiftOf>
float refit_scale(const Iq1Tables& t, int n, const float* xb, const float* weight, const uint16_t* index, float scale,
                  ShiftOf&& shift_of) {
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < n / 8; ++k) {
    const float* xx = shift_of(k);
    for (int j = 0; j < 8; ++j) {
      const float w = weight[8 * k + j];
      const float q = xx[t.levels[index[k]][j]];
      sumqx += w * q * xb[8 * k + j];
      sumq2 += w * q * q;
    }
  }
  return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

constexpr float kPlus[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
constexpr float kMinus[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};

void quantize_block_s(const Iq1Tables& t, const float* xbl, const float* importance, block_iq1_s& y) {
  constexpr int kBlock = 32;
  y.d = fp32_to_fp16(0.f);
  std::memset(y.qs, 0, sizeof(y.qs));
  std::memset(y.qh, 0, sizeof(y.qh));
  float scales[kQK_K / kBlock], weight[kBlock], sumx[kBlock + 1], sumw[kBlock + 1];
  int8_t shifts[kQK_K / kBlock];
  int8_t L[kBlock];
  uint16_t index[kBlock / 8];
  ValueIndex order[kBlock];
  float max_scale = 0, sumx2 = 0;
  for (int i = 0; i < kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  const float sigma2 = 2 * sumx2 / kQK_K;

  for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
    const float* xb = xbl + kBlock * ib;
    const float* qw = importance + kBlock * ib;
    for (int i = 0; i < kBlock; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    float max = std::fabs(xb[0]);
    for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
    scales[ib] = 0, shifts[ib] = 1;
    if (max < kEpsS) continue;
    sort_group(xb, kBlock, order);
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < kBlock; ++j) {
      const int i = order[j].index;
      sumx[j + 1] = sumx[j] + weight[i] * xb[i];
      sumw[j + 1] = sumw[j] + weight[i];
    }
    // Elements [0, i1) take level 0, [i1, i2) level 1, the rest level 2.
    float best_score = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, best_shift = 0;
    for (int i1 = 0; i1 <= kBlock; ++i1) {
      for (int i2 = i1; i2 <= kBlock; ++i2) {
        for (const int shift : {1, -1}) {
          const float* xx = shift == 1 ? kPlus : kMinus;
          const float sumqx = (sumx[i1] - sumx[0]) * xx[0] + (sumx[i2] - sumx[i1]) * xx[1] + (sumx[kBlock] - sumx[i2]) * xx[2];
          const float sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] + (sumw[i2] - sumw[i1]) * xx[1] * xx[1] +
                              (sumw[kBlock] - sumw[i2]) * xx[2] * xx[2];
          if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
            scale = sumqx / sumq2;
            best_score = scale * sumqx;
            best1 = i1, best2 = i2, best_shift = shift;
          }
        }
      }
    }
    if (best1 < 0 || best2 < 0 || best_shift == 0) continue;
    for (int j = 0; j < kBlock; ++j) L[order[j].index] = int8_t(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {
      for (int j = 0; j < kBlock; ++j) L[j] = int8_t(2 - L[j]);
      scale = -scale;
      best_shift = -best_shift;
    }
    const float* xx = best_shift == 1 ? kPlus : kMinus;
    const auto shift_of = [xx](int) { return xx; };
    if (!to_grid(t, kBlock, xb, weight, scale, L, index, shift_of))
      scale = refit_scale(t, kBlock, xb, weight, index, scale, shift_of);
    uint16_t h = 0;
    for (int k = 0; k < kBlock / 8; ++k) {
      y.qs[(kBlock / 8) * ib + k] = uint8_t(index[k] & 255);
      h = uint16_t(h | ((index[k] >> 8) << (3 * k)));
    }
    y.qh[ib] = h;
    if (!(scale >= 0)) fail("IQ1_S quantization produced a negative scale");
    scales[ib] = scale;
    shifts[ib] = int8_t(best_shift);
    max_scale = std::max(max_scale, scale);
  }
  if (max_scale == 0.f) return;
  const float d = max_scale / 15;
  y.d = fp32_to_fp16(d * 1.125f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
    int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
    if (shifts[ib] == -1) l |= 8;
    y.qh[ib] = uint16_t(y.qh[ib] | (l << 12));
  }
}

// IQ1_M's four shift patterns of a 16-element group (first half, second
// half): 0: +,+  1: +,-  2: -,+  3: -,-.
const float* shift_m(int pattern, int half) {
  const bool minus = half == 0 ? pattern >= 2 : pattern % 2 == 1;
  return minus ? kMinus : kPlus;
}

void group_weights_m(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int i = 0; i < 16; ++i) weight[i] = qw ? qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
}

void quantize_block_m(const Iq1Tables& t, const float* xbl, const float* importance, block_iq1_m& y) {
  constexpr int kBlock = 16;
  std::memset(&y, 0, sizeof(y));
  float scales[kQK_K / kBlock], weight[kBlock];
  int8_t shifts[kQK_K / kBlock];
  int8_t L[kBlock];
  uint16_t index[kBlock / 8];
  ValueIndex order[kBlock];
  float max_scale = 0, sumx2 = 0;
  for (int i = 0; i < kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  const float sigma2 = 2 * sumx2 / kQK_K;

  for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
    const float* xb = xbl + kBlock * ib;
    group_weights_m(xb, importance ? importance + kBlock * ib : nullptr, sigma2, weight);
    float max = std::fabs(xb[0]);
    for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
    scales[ib] = 0, shifts[ib] = 0;
    if (max < kEpsM) continue;
    sort_group(xb, kBlock, order);
    float best_score = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, best_k = -1;
    for (int i1 = 0; i1 <= kBlock; ++i1) {
      for (int i2 = i1; i2 <= kBlock; ++i2) {
        float sumqx[4] = {}, sumq2[4] = {};
        for (int j = 0; j < kBlock; ++j) {  // sorted order, as ggml sums
          const int i = order[j].index;
          const int level = j < i1 ? 0 : j < i2 ? 1 : 2;
          const int half = i < kBlock / 2 ? 0 : 1;
          for (int k = 0; k < 4; ++k) {
            const float q = shift_m(k, half)[level];
            sumqx[k] += weight[i] * q * xb[i];
            sumq2[k] += weight[i] * q * q;
          }
        }
        for (int k = 0; k < 4; ++k) {
          if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
            scale = sumqx[k] / sumq2[k];
            best_score = scale * sumqx[k];
            best1 = i1, best2 = i2, best_k = k;
          }
        }
      }
    }
    if (best1 < 0 || best2 < 0 || best_k < 0) continue;
    for (int j = 0; j < kBlock; ++j) L[order[j].index] = int8_t(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {
      for (int j = 0; j < kBlock; ++j) L[j] = int8_t(2 - L[j]);
      scale = -scale;
      best_k = 3 - best_k;  // both halves' shifts flip
    }
    const auto shift_of = [best_k](int half) { return shift_m(best_k, half); };
    if (!to_grid(t, kBlock, xb, weight, scale, L, index, shift_of))
      scale = refit_scale(t, kBlock, xb, weight, index, scale, shift_of);
    y.qs[2 * ib + 0] = uint8_t(index[0] & 255);
    y.qs[2 * ib + 1] = uint8_t(index[1] & 255);
    y.qh[ib] = uint8_t((index[0] >> 8) | ((index[1] >> 8) << 4));
    if (!(scale >= 0)) fail("IQ1_M quantization produced a negative scale");
    scales[ib] = scale;
    shifts[ib] = int8_t(best_k);
    max_scale = std::max(max_scale, scale);
  }
  if (max_scale == 0.f) return;

  // 3-bit group scales, then the super-block scale refit by least squares
  // over the final levels (ggml's), stored in the scales' top nibbles.
  constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};
  uint16_t sc[4] = {};
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
    const int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
    sc[ib / 4] = uint16_t(sc[ib / 4] | (l << (3 * (ib % 4))));
    y.qh[ib] = uint8_t(y.qh[ib] | kShiftMasks[shifts[ib]]);
    const float* xb = xbl + kBlock * ib;
    group_weights_m(xb, importance ? importance + kBlock * ib : nullptr, sigma2, weight);
    for (int k = 0; k < kBlock / 8; ++k) {
      const float* xx = shift_m(shifts[ib], k);
      const int grid_index = y.qs[2 * ib + k] + ((y.qh[ib] << (8 - 4 * k)) & 0x700);
      for (int j = 0; j < 8; ++j) {
        const float w = weight[8 * k + j];
        const float q = xx[t.levels[grid_index][j]] * float(2 * l + 1);
        sumqx += w * q * xb[8 * k + j];
        sumq2 += w * q * q;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t s = fp32_to_fp16(d * 1.1125f);  // ggml's fudge factor
  sc[0] = uint16_t(sc[0] | ((s & 0x000f) << 12));
  sc[1] = uint16_t(sc[1] | ((s & 0x00f0) << 8));
  sc[2] = uint16_t(sc[2] | ((s & 0x0f00) << 4));
  sc[3] = uint16_t(sc[3] | (s & 0xf000));
  std::memcpy(y.scales, sc, sizeof(sc));
}

}  // namespace

void quantize_iq1_s_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  if (importance == nullptr) fail("IQ1_S quantization needs an importance matrix (llama-imatrix computes one)");
  const Iq1Tables& t = tables();
  auto* y = static_cast<block_iq1_s*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_s(t, x + i * kQK_K, importance + i * kQK_K, y[i]);
}

void quantize_iq1_m_weighted(const float* x, void* dst, int64_t n, const float* importance) {
  const Iq1Tables& t = tables();
  auto* y = static_cast<block_iq1_m*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    quantize_block_m(t, x + i * kQK_K, importance ? importance + i * kQK_K : nullptr, y[i]);
}

void quantize_iq1_m(const float* x, void* dst, int64_t n) { quantize_iq1_m_weighted(x, dst, n, nullptr); }

}  // namespace hearth::ref

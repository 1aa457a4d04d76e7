// Reference kernels of the ternary types TQ1_0 and TQ2_0 (BitNet b1.58:
// levels -1, 0, +1 times one f16 scale per 256, activations Q8_K) and of
// MXFP4 (OCP microscaling: 32 E2M1 values sharing an E8M0 exponent,
// activations Q8_0). All three quantizers are closed forms (ggml's
// quantize_row_*_ref), so their output is byte-identical to ggml's.
#include <cmath>
#include <cstring>

#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace hearth::ref {
namespace {

constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

// TQ1_0 packs 5 trits per byte as ceil(value * 256 / 243): trit n of a byte
// is the top "digit" of byte * 3^n, read back as (byte' * 3) >> 8.
inline int tq1_trit(uint8_t byte, int n) {
  const uint8_t shifted = uint8_t(byte * kPow3[n]);
  return ((uint16_t(shifted) * 3) >> 8) - 1;
}

// Element order of a TQ1_0 block: element e -> (byte index into qs||qh, trit n).
// qs[0..32) holds elements 0..160 (5 rows of 32), qs[32..48) elements
// 160..240 (5 rows of 16), qh[0..4) elements 240..256 (4 rows of 4).
template <typename Fn>
inline void for_each_tq1_element(const block_tq1_0& b, Fn&& fn) {
  int e = 0;
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 32; ++m) fn(e++, tq1_trit(b.qs[m], n));
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 16; ++m) fn(e++, tq1_trit(b.qs[32 + m], n));
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 4; ++j) fn(e++, tq1_trit(b.qh[j], n));
}

inline int tq2_level(const block_tq2_0& b, int e) {
  const int chunk = e / 128, within = e % 128;
  return ((b.qs[32 * chunk + within % 32] >> (2 * (within / 32))) & 3) - 1;
}

float amax_of(const float* x, int n) {
  float amax = 0.f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// Trit of x at scale id: -1, 0, 1 stored as 0, 1, 2 (lroundf: ties away from zero).
inline int trit_code(float x, float id) { return int(std::lround(x * id)) + 1; }

// ggml_e8m0_to_fp32_half: 2^(e - 128), with e < 2 as denormals.
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (uint32_t(e - 1) << 23);
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

// The MXFP4 code whose value (in half units times d) is nearest x; ties keep the lower code.
int nearest_fp4(float x, float d) {
  int best = 0;
  float best_err = std::fabs(float(kValuesMxfp4[0]) * d - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(float(kValuesMxfp4[i]) * d - x);
    if (err < best_err) best = i, best_err = err;
  }
  return best;
}

}  // namespace

float mxfp4_scale(uint8_t e) { return e8m0_half(e); }

// ---------------------------------------------------------------- TQ1_0

void dequantize_tq1_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_tq1_0*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    const float d = fp16_to_fp32(x[i].d);
    for_each_tq1_element(x[i], [&](int e, int level) { y[e] = float(level) * d; });
  }
}

void quantize_tq1_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_tq1_0*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    const float d = amax_of(x, kQK_K);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    // Trits most significant first, then scaled so trit n is the top digit of byte * 3^n.
    const auto pack = [&](const float* base, int stride, int count) {
      int q = 0;
      for (int t = 0; t < count; ++t) q = q * 3 + trit_code(base[t * stride], id);
      for (int t = count; t < 5; ++t) q *= 3;
      return uint8_t((q * 256 + 242) / 243);
    };
    for (int m = 0; m < 32; ++m) y[i].qs[m] = pack(x + m, 32, 5);
    for (int m = 0; m < 16; ++m) y[i].qs[32 + m] = pack(x + 160 + m, 16, 5);
    for (int j = 0; j < 4; ++j) y[i].qh[j] = pack(x + 240 + j, 4, 4);
  }
}

float vec_dot_tq1_0(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_tq1_0*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int total = 0;
    for_each_tq1_element(w[i], [&](int e, int level) { total += level * a[i].qs[e]; });
    sum += float(total) * (fp16_to_fp32(w[i].d) * a[i].d);
  }
  return sum;
}

// ---------------------------------------------------------------- TQ2_0

void dequantize_tq2_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_tq2_0*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    const float d = fp16_to_fp32(x[i].d);
    for (int e = 0; e < kQK_K; ++e) y[e] = float(tq2_level(x[i], e)) * d;
  }
}

void quantize_tq2_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_tq2_0*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    const float d = amax_of(x, kQK_K);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int chunk = 0; chunk < 2; ++chunk) {
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int t = 0; t < 4; ++t) q |= (trit_code(x[128 * chunk + 32 * t + m], id) & 3) << (2 * t);
        y[i].qs[32 * chunk + m] = uint8_t(q);
      }
    }
  }
}

float vec_dot_tq2_0(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_tq2_0*>(weight);
  const auto* a = static_cast<const block_q8_K*>(act);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int total = 0;
    for (int e = 0; e < kQK_K; ++e) total += tq2_level(w[i], e) * a[i].qs[e];
    sum += float(total) * (a[i].d * fp16_to_fp32(w[i].d));
  }
  return sum;
}

// ---------------------------------------------------------------- MXFP4

void dequantize_mxfp4(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const block_mxfp4*>(src);
  for (int64_t i = 0; i < n / kQK_MXFP4; ++i, y += kQK_MXFP4) {
    const float d = e8m0_half(x[i].e);
    for (int j = 0; j < kQK_MXFP4 / 2; ++j) {
      y[j] = float(kValuesMxfp4[x[i].qs[j] & 0xf]) * d;
      y[j + kQK_MXFP4 / 2] = float(kValuesMxfp4[x[i].qs[j] >> 4]) * d;
    }
  }
}

void quantize_mxfp4(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_mxfp4*>(dst);
  for (int64_t i = 0; i < n / kQK_MXFP4; ++i, x += kQK_MXFP4) {
    const float amax = amax_of(x, kQK_MXFP4);
    // The largest E2M1 value is 6 = 1.5 * 2^2: the exponent puts amax's
    // binade at the top of the code range.
    const uint8_t e = amax > 0.f ? uint8_t(int(std::floor(std::log2(amax)) - 2 + 127)) : 0;
    const float d = e8m0_half(e);
    y[i].e = e;
    for (int j = 0; j < kQK_MXFP4 / 2; ++j) {
      y[i].qs[j] = uint8_t(nearest_fp4(x[j], d) | (nearest_fp4(x[j + kQK_MXFP4 / 2], d) << 4));
    }
  }
}

float vec_dot_mxfp4(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const block_mxfp4*>(weight);
  const auto* a = static_cast<const block_q8_0*>(act);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK_MXFP4; ++i) {
    const float d = fp16_to_fp32(a[i].d) * e8m0_half(w[i].e);
    int total = 0;
    for (int j = 0; j < kQK_MXFP4 / 2; ++j) {
      total += a[i].qs[j] * kValuesMxfp4[w[i].qs[j] & 0xf];
      total += a[i].qs[j + kQK_MXFP4 / 2] * kValuesMxfp4[w[i].qs[j] >> 4];
    }
    sum += d * float(total);
  }
  return sum;
}

}  // namespace hearth::ref

// CPU feature detection and kernel table selection.
#include "backend/cpu/kernels.h"

#include "backend/cpu/isa_tables.h"
#include "backend/ref/kernels_ref.h"
#include "core/error.h"
#include "core/fp16.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hearth::cpu {
namespace {

// out[r] = single-row kernel on each row: the rows entry for ISAs without a
// dedicated multi-row kernel for a type.
template <Kernels::VecDotFn kSingle>
void rows_by_single(int64_t n, int n_rows, const void* rows, size_t row_stride, const void* act,
                    float* out) {
  const auto* base = static_cast<const uint8_t*>(rows);
  for (int r = 0; r < n_rows; ++r) out[r] = kSingle(n, base + size_t(r) * row_stride, act);
}

template <Kernels::VecDotFn kSingle>
void tile_by_single(int64_t n, int n_rows, const void* rows, size_t row_stride, int n_acts,
                    const void* acts, size_t act_stride, float* out, size_t out_stride) {
  const auto* row_base = static_cast<const uint8_t*>(rows);
  const auto* act_base = static_cast<const uint8_t*>(acts);
  for (int a = 0; a < n_acts; ++a) {
    for (int r = 0; r < n_rows; ++r) {
      out[size_t(a) * out_stride + size_t(r)] =
          kSingle(n, row_base + size_t(r) * row_stride, act_base + size_t(a) * act_stride);
    }
  }
}

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale_scalar(int64_t n, float a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

void weighted_rows_scalar(int64_t n, const float* const* p, int n_q, const float* v, int64_t n_rows,
                          float* const* acc) {
  for (int k = 0; k < n_q; ++k)
    for (int64_t j = 0; j < n_rows; ++j)
      for (int64_t i = 0; i < n; ++i) acc[k][i] += p[k][j] * v[j * n + i];
}

void softmax_scalar(float* x, int64_t n, const float* sink, bool round_to_f16) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, x[j]);
  if (sink) max_score = std::max(max_score, *sink);
  double total = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - max_score);
    total += x[j];
  }
  if (sink) total += double(std::exp(*sink - max_score));
  const float inv_sum = float(1.0 / total);
  for (int64_t j = 0; j < n; ++j) {
    x[j] *= inv_sum;
    if (round_to_f16) x[j] = round_to_fp16(x[j]);
  }
}

void score_block_scalar(float* s, int n, float scale, float softcap, int lo, int hi) {
  for (int r = 0; r < n; ++r) {
    float v = s[r] * scale;
    if (softcap != 0.0f) v = softcap * std::tanh(v / softcap);
    s[r] = r < lo || r >= hi ? -std::numeric_limits<float>::infinity() : v;
  }
}

float softmax_block_scalar(float* s, int n, float* m, float* sum) {
  float block_max = -std::numeric_limits<float>::infinity();
  for (int r = 0; r < n; ++r) block_max = std::max(block_max, s[r]);
  float rescale = 1.0f;
  if (block_max > *m) {
    rescale = std::exp(*m - block_max);
    *sum *= rescale;
    *m = block_max;
  }
  for (int r = 0; r < n; ++r) {
    s[r] = std::exp(s[r] - *m);  // exp(-inf) = 0 for masked keys
    *sum += s[r];
  }
  return rescale;
}

void transpose_block_scalar(int64_t n, const float* rows, int64_t n_rows, float* kt) {
  constexpr int kCols = Kernels::kScoreBlock;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < kCols; ++j) kt[i * kCols + j] = j < n_rows ? rows[j * n + i] : 0.0f;
}

void dot_columns_scalar(int64_t n, const float* const* q, int n_q, const float* kt, float* out) {
  constexpr int kCols = Kernels::kScoreBlock;
  for (int k = 0; k < n_q; ++k) {
    float* o = out + k * kCols;
    for (int j = 0; j < kCols; ++j) o[j] = 0.0f;
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < kCols; ++j) o[j] += q[k][i] * kt[i * kCols + j];
  }
}

template <Kernels::VecDotFn kSingle>
void set_weight(Kernels& k, DType weight, DType act, Kernels::DequantizeFn dequantize) {
  const uint32_t id = uint32_t(weight);
  k.vec_dot[id] = kSingle;
  k.vec_dot_rows[id] = rows_by_single<kSingle>;
  k.vec_dot_tile[id] = tile_by_single<kSingle>;
  k.dequantize[id] = dequantize;
  k.act_type[id] = act;
}

Kernels scalar_kernels() {
  Kernels k;
  k.isa = "scalar";
  set_weight<ref::vec_dot_f32>(k, DType::F32, DType::F32, ref::dequantize_f32);
  set_weight<ref::vec_dot_f16>(k, DType::F16, DType::F16, ref::dequantize_f16);
  set_weight<ref::vec_dot_bf16>(k, DType::BF16, DType::BF16, ref::dequantize_bf16);
  set_weight<ref::vec_dot_q4_0>(k, DType::Q4_0, DType::Q8_0, ref::dequantize_q4_0);
  set_weight<ref::vec_dot_q4_1>(k, DType::Q4_1, DType::Q8_1, ref::dequantize_q4_1);
  set_weight<ref::vec_dot_q5_0>(k, DType::Q5_0, DType::Q8_0, ref::dequantize_q5_0);
  set_weight<ref::vec_dot_q5_1>(k, DType::Q5_1, DType::Q8_1, ref::dequantize_q5_1);
  set_weight<ref::vec_dot_q8_0>(k, DType::Q8_0, DType::Q8_0, ref::dequantize_q8_0);
  set_weight<ref::vec_dot_q2_K>(k, DType::Q2_K, DType::Q8_K, ref::dequantize_q2_K);
  set_weight<ref::vec_dot_q3_K>(k, DType::Q3_K, DType::Q8_K, ref::dequantize_q3_K);
  set_weight<ref::vec_dot_q4_K>(k, DType::Q4_K, DType::Q8_K, ref::dequantize_q4_K);
  set_weight<ref::vec_dot_q5_K>(k, DType::Q5_K, DType::Q8_K, ref::dequantize_q5_K);
  set_weight<ref::vec_dot_q6_K>(k, DType::Q6_K, DType::Q8_K, ref::dequantize_q6_K);
  set_weight<ref::vec_dot_iq4_nl>(k, DType::IQ4_NL, DType::Q8_0, ref::dequantize_iq4_nl);
  set_weight<ref::vec_dot_iq4_xs>(k, DType::IQ4_XS, DType::Q8_K, ref::dequantize_iq4_xs);
  set_weight<ref::vec_dot_iq2_xxs>(k, DType::IQ2_XXS, DType::Q8_K, ref::dequantize_iq2_xxs);
  set_weight<ref::vec_dot_iq2_xs>(k, DType::IQ2_XS, DType::Q8_K, ref::dequantize_iq2_xs);
  set_weight<ref::vec_dot_iq2_s>(k, DType::IQ2_S, DType::Q8_K, ref::dequantize_iq2_s);
  set_weight<ref::vec_dot_iq3_xxs>(k, DType::IQ3_XXS, DType::Q8_K, ref::dequantize_iq3_xxs);
  set_weight<ref::vec_dot_iq3_s>(k, DType::IQ3_S, DType::Q8_K, ref::dequantize_iq3_s);
  set_weight<ref::vec_dot_iq1_s>(k, DType::IQ1_S, DType::Q8_K, ref::dequantize_iq1_s);
  set_weight<ref::vec_dot_iq1_m>(k, DType::IQ1_M, DType::Q8_K, ref::dequantize_iq1_m);
  set_weight<ref::vec_dot_tq1_0>(k, DType::TQ1_0, DType::Q8_K, ref::dequantize_tq1_0);
  set_weight<ref::vec_dot_tq2_0>(k, DType::TQ2_0, DType::Q8_K, ref::dequantize_tq2_0);
  set_weight<ref::vec_dot_mxfp4>(k, DType::MXFP4, DType::Q8_0, ref::dequantize_mxfp4);
  // Activation types: dequantizers too (for tests and debugging).
  k.dequantize[uint32_t(DType::Q8_1)] = ref::dequantize_q8_1;
  k.dequantize[uint32_t(DType::Q8_K)] = ref::dequantize_q8_K;
  k.quantize_act[uint32_t(DType::Q8_0)] = ref::quantize_act_q8_0;
  k.quantize_act[uint32_t(DType::Q8_1)] = ref::quantize_act_q8_1;
  k.quantize_act[uint32_t(DType::Q8_K)] = ref::quantize_q8_K;
  k.quantize_act[uint32_t(DType::F16)] = ref::quantize_f16;
  k.quantize_act[uint32_t(DType::BF16)] = ref::quantize_bf16;
  k.quantize_act[uint32_t(DType::F32)] = ref::quantize_f32;
  k.axpy = axpy_scalar;
  k.scale = scale_scalar;
  k.weighted_rows = weighted_rows_scalar;
  k.softmax = softmax_scalar;
  k.score_block = score_block_scalar;
  k.softmax_block = softmax_block_scalar;
  k.transpose_block = transpose_block_scalar;
  k.dot_columns = dot_columns_scalar;
  return k;
}

detail::KernelSlots slots_of(Kernels& k) {
  return {k.vec_dot, k.vec_dot_rows, k.vec_dot_tile, k.quantize_act, k.dequantize, k.packed_gemm, k.packed_gemm_pair, &k.axpy, &k.scale, &k.weighted_rows, &k.softmax, &k.score_block, &k.softmax_block, &k.transpose_block, &k.dot_columns};
}

Kernels avx2_kernels() {
  Kernels k = scalar_kernels();
  detail::install_avx2(slots_of(k));
  k.isa = "avx2";
  return k;
}

// AVX-512 machines run the AVX2 kernels for every type without a dedicated
// AVX-512 one.
Kernels avx512_kernels(bool vnni) {
  Kernels k = avx2_kernels();
  if (vnni) {
    detail::install_avx512_vnni(slots_of(k));
    k.isa = "avx512-vnni";
  } else {
    detail::install_avx512(slots_of(k));
    k.isa = "avx512";
  }
  return k;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string out;
  const auto add = [&](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avx_vnni, "avxvnni");
  return out.empty() ? "baseline x86-64" : out;
}

CpuFeatures detect_cpu_features() {
  // libgcc's __builtin_cpu_supports also checks that the OS saves the wide
  // registers (XCR0), so a reported AVX-512 feature is usable.
  __builtin_cpu_init();
  CpuFeatures f;
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
  f.avx_vnni = __builtin_cpu_supports("avxvnni");
  return f;
}

Kernels select_kernels(const CpuFeatures& features) {
  // The widest set this CPU runs: AVX-512 (with VNNI's vpdpbusd where
  // present, as llama.cpp uses it), else AVX2, else the portable kernels.
  if (features.has_avx512_set()) return avx512_kernels(features.avx512vnni);
  if (features.has_avx2_set()) return avx2_kernels();
  return scalar_kernels();
}

Kernels select_kernels_for(std::string_view isa) {
  const CpuFeatures features = detect_cpu_features();
  if (isa == "scalar") return scalar_kernels();
  if (isa == "avx2") {
    if (!features.has_avx2_set()) fail("this CPU lacks AVX2/FMA/F16C ({})", features.describe());
    return avx2_kernels();
  }
  if (isa == "avx512" || isa == "avx512-vnni") {
    if (!features.has_avx512_set()) {
      fail("this CPU lacks AVX-512 F/BW/VL ({})", features.describe());
    }
    if (isa == "avx512-vnni" && !features.avx512vnni) fail("this CPU lacks AVX512-VNNI");
    return avx512_kernels(features.avx512vnni);
  }
  fail("unknown kernel ISA '{}' (expected scalar, avx2, avx512)", isa);
}

}  // namespace hearth::cpu

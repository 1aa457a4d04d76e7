// CPU kernels chosen once at startup from CPUID: AVX-512 (F/BW/VL, with VNNI
// where present), AVX2 (+FMA, F16C), or the portable reference kernels. One
// binary runs on any x86-64: each ISA's kernels live in their own source file
// compiled with that ISA's flags, and nothing calls them unless the CPU
// reported the features. The table is a value the caller owns (no globals).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/dtype.h"

namespace hearth::cpu {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool avx_vnni = false;
  // "avx2 fma f16c avx512f ..." (the features present, space-separated).
  std::string describe() const;
  bool has_avx2_set() const { return avx2 && fma && f16c; }
  bool has_avx512_set() const { return has_avx2_set() && avx512f && avx512bw && avx512vl; }
};

// What this CPU (and OS, for the wide registers) supports.
CpuFeatures detect_cpu_features();

struct Kernels {
  // Dot product of a weight row (n elements, n a multiple of the weight
  // type's block size) with an activation row already in vec_dot_type.
  using VecDotFn = float (*)(int64_t n, const void* weight_row, const void* act_row);
  // n_rows weight rows (row_stride bytes apart) against one activation row:
  // out[r] = vec_dot(n, rows + r * row_stride, act), kMaxRows at a time
  // sharing the activation loads (the GEMV inner loop).
  using VecDotRowsFn = void (*)(int64_t n, int n_rows, const void* rows, size_t row_stride,
                                const void* act_row, float* out);
  // A tile of n_rows weight rows by n_acts activation rows
  // (act_stride bytes apart): out[a * out_stride + r] = vec_dot(n, row r, act a).
  // Unpacks each weight block once for every activation row, so it is the
  // kernel for batches (prompt processing); vec_dot_rows is for one token.
  using VecDotTileFn = void (*)(int64_t n, int n_rows, const void* rows, size_t row_stride, int n_acts,
                                const void* acts, size_t act_stride, float* out, size_t out_stride);
  using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
  using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
  // One group of 8 weight rows packed as in packed_blocks.h against n_acts
  // activation rows: out[a * out_stride + r] = vec_dot(n, row r, act a), r < 8.
  // act_sums (Q4_0, MXFP4 and Q8_0's pair kernel, else unused; see
  // packed_reads_act_sums): per activation row (sums_stride ints apart) with
  // B blocks, B ints: each 32-element block's level sum; then B more: each
  // block's d as f32 bits, and B more: the sum times -8 (Q4_0), -12 (MXFP4)
  // or -128 (Q8_0), the zero point's share. Laid out by pack_act_sums
  // (packed_blocks.h).
  using PackedGemmFn = void (*)(int64_t n, const void* group, int n_acts, const void* acts, size_t act_stride,
                                const int32_t* act_sums, size_t sums_stride, float* out, size_t out_stride);
  // y += a * x and y *= a over n floats (attention's value accumulation).
  using AxpyFn = void (*)(int64_t n, float a, const float* x, float* y);
  using ScaleFn = void (*)(int64_t n, float a, float* y);
  // Blocked attention: acc[k] += sum_j p[k][j] * v[j] over f32 value rows of
  // n elements (n apart), for j < n_rows, for n_q <= kMaxDotQueries queries
  // sharing the rows; each element's sum is taken in j order, whatever n_q.
  using WeightedRowsFn = void (*)(int64_t n, const float* const* p, int n_q, const float* v, int64_t n_rows,
                                  float* const* acc);
  // Unfused attention's softmax over x[0, n), in place (as ggml): x =
  // exp(x - max) summed in double, then x / sum, rounded to f16 when
  // round_to_f16. A sink (null: none) joins the maximum and the sum.
  using SoftmaxFn = void (*)(float* x, int64_t n, const float* sink, bool round_to_f16);
  // Attention's scores of one query over a block of n <= kScoreBlock keys,
  // in place: s = scale * s, then softcap * tanh(s / softcap) when softcap
  // is not 0; keys outside [lo, hi) get -inf. s holds kScoreBlock floats.
  using ScoreBlockFn = void (*)(float* s, int n, float scale, float softcap, int lo, int hi);
  // The online softmax's step over such a block (ggml's flash_attn_ext, a
  // block at a time): m grows to the block's maximum and *sum is rescaled by
  // exp(old m - new m), which is returned (1 when m did not grow) for the
  // caller's accumulator; s becomes exp(s - m), added to *sum. The block
  // holds at least one key that is not -inf.
  using SoftmaxBlockFn = float (*)(float* s, int n, float* m, float* sum);
  static constexpr int kScoreBlock = 32;
  // A block of n_rows <= kScoreBlock f32 keys of n elements (rows n apart),
  // transposed for dot_columns: kt[i * kScoreBlock + j] = key j's element
  // i, and 0 for the columns j >= n_rows.
  using TransposeBlockFn = void (*)(int64_t n, const float* rows, int64_t n_rows, float* kt);
  // out[k][j] = q[k] . key j for n_q <= kMaxDotQueries queries and the
  // kScoreBlock keys of a transposed block, each key summed in one fixed
  // order (so a score does not depend on its block mates or on the queries
  // sharing the call): in the SIMD kernels, the order of a dot ending in
  // hsum; in the scalar reference, element order.
  using DotColumnsFn = void (*)(int64_t n, const float* const* q, int n_q, const float* kt, float* out);
  static constexpr int kMaxDotQueries = 4;
  static constexpr int kMaxRows = 4;

  VecDotFn vec_dot[hearth::kDTypeIdLimit] = {};        // by weight type id; null if unsupported
  VecDotRowsFn vec_dot_rows[hearth::kDTypeIdLimit] = {};  // same types as vec_dot
  VecDotTileFn vec_dot_tile[hearth::kDTypeIdLimit] = {};  // same types as vec_dot
  QuantizeFn quantize_act[hearth::kDTypeIdLimit] = {};  // by ACTIVATION type id
  DequantizeFn dequantize[hearth::kDTypeIdLimit] = {};  // by type id
  hearth::DType act_type[hearth::kDTypeIdLimit] = {};  // vec_dot_type of each weight type
  // By weight type; null where that type is not packed (and on the scalar ISA).
  PackedGemmFn packed_gemm[hearth::kDTypeIdLimit] = {};
  // The same for two consecutive groups (16 rows; out gets 16 values per
  // activation row), bitwise equal to packed_gemm on each: the wide-register
  // kernels for batches. Null where the ISA has none (then packed_gemm twice).
  PackedGemmFn packed_gemm_pair[hearth::kDTypeIdLimit] = {};
  AxpyFn axpy = nullptr;
  ScaleFn scale = nullptr;
  WeightedRowsFn weighted_rows = nullptr;
  SoftmaxFn softmax = nullptr;
  ScoreBlockFn score_block = nullptr;
  TransposeBlockFn transpose_block = nullptr;
  DotColumnsFn dot_columns = nullptr;
  SoftmaxBlockFn softmax_block = nullptr;
  std::string isa;  // "avx512-vnni", "avx512", "avx2", "scalar"

  VecDotFn vec_dot_for(hearth::DType t) const { return vec_dot[uint32_t(t)]; }
  VecDotRowsFn vec_dot_rows_for(hearth::DType t) const { return vec_dot_rows[uint32_t(t)]; }
  VecDotTileFn vec_dot_tile_for(hearth::DType t) const { return vec_dot_tile[uint32_t(t)]; }
  QuantizeFn quantize_act_for(hearth::DType act) const { return quantize_act[uint32_t(act)]; }
  DequantizeFn dequantize_for(hearth::DType t) const { return dequantize[uint32_t(t)]; }
  hearth::DType vec_dot_type(hearth::DType t) const { return act_type[uint32_t(t)]; }
  PackedGemmFn packed_gemm_for(hearth::DType t) const { return packed_gemm[uint32_t(t)]; }
  PackedGemmFn packed_gemm_pair_for(hearth::DType t) const { return packed_gemm_pair[uint32_t(t)]; }
};

// The best kernels the features allow.
Kernels select_kernels(const CpuFeatures& features);
// A named ISA ("scalar", "avx2", "avx512"; "avx512" uses VNNI when present),
// for tests and benchmarks. Throws hearth::Error if this CPU lacks it.
Kernels select_kernels_for(std::string_view isa);

}  // namespace hearth::cpu

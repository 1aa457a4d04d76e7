// Internal: how each ISA's source file hands its kernels to select_kernels.
// Plain arrays of function pointers, so the ISA-specific translation units
// need no std::string (whose inline members they would otherwise compile with
// their wider instruction set, and the linker might pick for everyone).
#pragma once

#include "backend/cpu/kernels.h"

namespace hearth::cpu::detail {

struct KernelSlots {
  Kernels::VecDotFn* vec_dot;
  Kernels::VecDotRowsFn* vec_dot_rows;
  Kernels::VecDotTileFn* vec_dot_tile;
  Kernels::QuantizeFn* quantize_act;
  Kernels::DequantizeFn* dequantize;
  Kernels::PackedGemmFn* packed_gemm;
  Kernels::PackedGemmFn* packed_gemm_pair;
  Kernels::AxpyFn* axpy;
  Kernels::ScaleFn* scale;
  Kernels::WeightedRowsFn* weighted_rows;
  Kernels::SoftmaxFn* softmax;
  Kernels::ScoreBlockFn* score_block;
  Kernels::SoftmaxBlockFn* softmax_block;
  Kernels::TransposeBlockFn* transpose_block;
  Kernels::DotColumnsFn* dot_columns;
};

// Each overwrites the slots it has kernels for and leaves the others.
void install_avx2(const KernelSlots& slots);
void install_avx512(const KernelSlots& slots);       // AVX-512 F/BW/VL, no VNNI
void install_avx512_vnni(const KernelSlots& slots);  // + AVX512-VNNI

}  // namespace hearth::cpu::detail

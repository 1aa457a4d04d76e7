// Reference (scalar) quantization kernels: the definition of what every
// optimized kernel in backend/cpu must compute. Bit-exact with ggml where ggml
// is deterministic (dequantization, quantization, activation quantization);
// dot products equal ggml's up to float summation order.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace hearth::ref {

// Expands a row of n elements (a multiple of the type's block size) to floats.
void dequantize_row(hearth::DType type, const void* src, float* dst, int64_t n);

// Quantizes a row as ggml's reference quantizers do (quantize_row_*_ref, no
// importance matrix; for IQ4_NL the search ggml_quantize_chunk uses, so that
// files match llama-quantize's). Also F32/F16/BF16 (plain conversion).
void quantize_row(hearth::DType type, const float* src, void* dst, int64_t n);

// quantize_row with an importance matrix (one weight per element of the row,
// llama-imatrix's values), as ggml_quantize_chunk uses it. IQ3_XXS, IQ3_S,
// IQ2_S and IQ2_XS use it (IQ2_XS cannot be made without one: throws);
// other types quantize as quantize_row does.
void quantize_row_weighted(hearth::DType type, const float* src, void* dst, int64_t n, const float* importance);

// Quantizes an activation row to `act_type` (a vec_dot_type) exactly as ggml's
// x86 CPU backend does inside mul_mat: for Q8_0/Q8_1 the scale is 127/amax and
// rounding is to nearest even (the AVX from_float), unlike quantize_row's
// reference rounding (half away from zero). Q8_K, F16, BF16, F32 as usual.
void quantize_activation(hearth::DType act_type, const float* src, void* dst, int64_t n);

// The type activations are converted to before a dot product with a row of
// `weight_type` (ggml's vec_dot_type). Throws for unsupported weight types.
hearth::DType vec_dot_type(hearth::DType weight_type);

// Dot product of a weight row and an activation row in vec_dot_type(weight_type).
float vec_dot(hearth::DType weight_type, int64_t n, const void* weight_row, const void* act_row);

// True when `type` has dequantize_row and vec_dot (as a weight type).
bool is_supported(hearth::DType type);

// True when quantize_row accepts `type`.
bool can_quantize(hearth::DType type);

}  // namespace hearth::ref

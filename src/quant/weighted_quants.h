// Row quantizers that take an importance matrix, as ggml_quantize_chunk runs
// them when llama-quantize is given --imatrix (ggml's quantize_*_impl with
// quant_weights): Q4_0, Q4_1, Q5_0, Q5_1, the k-quants Q2_K..Q6_K, IQ4_NL
// and IQ4_XS here,
// the IQ2/IQ3 types through backend/ref. Byte-identical with ggml.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace hearth::quant {

// True when quantize_row_with_importance uses the importance weights for
// `type` exactly as ggml does. Types ggml quantizes without them (Q8_0, F16,
// TQ1_0, TQ2_0, MXFP4) are true as well: there is nothing to use.
bool uses_importance_like_ggml(DType type);

// True when hearth can make `type` (some types only with importance weights).
bool can_quantize_with_importance(DType type);

// Quantizes one row of n values with per-element importance weights (null:
// the plain quantizer). Types for which uses_importance_like_ggml is false
// are quantized without the weights.
void quantize_row_with_importance(DType type, const float* src, void* dst, int64_t n, const float* importance);

}  // namespace hearth::quant

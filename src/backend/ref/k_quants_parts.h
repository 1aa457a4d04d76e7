// The pieces of the k-quant quantizers that do not depend on how the scales
// were searched for: the asymmetric scale search itself, and the second half
// of every quantizer (requantize the levels against the stored, f16-rounded
// scales, then pack them). The reference quantizers (k_quants_quantize.cpp)
// and the importance-weighted ones (quant/weighted_quants.cpp) share them,
// so both write ggml's bytes the same way.
#pragma once

#include <cstdint>

#include "core/quant_blocks.h"

namespace hearth::ref {

// Symmetric quantization of n values to levels -nmax..nmax-1 (stored +nmax):
// 19 candidate scales around nmax/max, the best weighted least-squares fit
// kept (ggml's make_qx_quants with rmse_type 1). Weights: the importance
// weights, or x^2 where there are none (nullptr). Returns the scale.
float make_symmetric_quants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Asymmetric quantization x ~ scale * L - min_out with L in 0..nmax (ggml's
// make_qkx2_quants; with importance weights it is make_qkx3_quants, which
// differs only for nstep < 1): a grid of nstep + 1 candidate scales, each
// refined by a weighted least-squares fit of scale and min; keeps the lowest
// weighted error (absolute when use_mad, else squared). Returns the scale and
// writes the (positive) min to *min_out. Laux: n bytes of scratch.
float make_asymmetric_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* min_out,
                             uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Packs the 8 6-bit (scale, min) pairs of Q4_K / Q5_K into 12 bytes.
void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* packed);

// Packs 16 6-bit Q3_K scale levels (0..63, i.e. the signed scale + 32) into
// block.scales.
void pack_q3_K_scales(const int* levels, block_q3_K& block);

// The second halves: with block.d/dmin and block.scales already set, the 256
// levels of x requantized against them and packed into the block. L: 256
// bytes of scratch.
void finish_q2_K(const float* x, block_q2_K& block, uint8_t* L);
void finish_q3_K(const float* x, block_q3_K& block, int8_t* L);
void finish_q4_K(const float* x, block_q4_K& block, uint8_t* L);
void finish_q5_K(const float* x, block_q5_K& block, uint8_t* L);
void finish_q6_K(const float* x, block_q6_K& block, int8_t* L);

}  // namespace hearth::ref

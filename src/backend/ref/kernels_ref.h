// The per-type reference kernels behind ref/quants.h, with the signatures of
// the cpu::Kernels table so its scalar fallback can point straight at them.
#pragma once

#include <cstdint>

namespace hearth::ref {

// Rounds to the nearest integer, ties to even, as ggml's nearest_int does
// (valid for |x| < 2^22, which every caller guarantees).
inline int nearest_int(float x) {
  // Adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
  const float shifted = x + 12582912.f;
  uint32_t bits;
  __builtin_memcpy(&bits, &shifted, sizeof(bits));
  return int(bits & 0x007fffffu) - 0x00400000;
}

// ---- float types
void dequantize_f32(const void* src, float* dst, int64_t n);
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void quantize_f32(const float* src, void* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);
float vec_dot_f32(int64_t n, const void* weight, const void* act);
float vec_dot_f16(int64_t n, const void* weight, const void* act);
float vec_dot_bf16(int64_t n, const void* weight, const void* act);

// ---- legacy 32-element blocks
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
// Activation quantizers (ggml's AVX from_float: scale 127/amax, ties to even).
void quantize_act_q8_0(const float* src, void* dst, int64_t n);
void quantize_act_q8_1(const float* src, void* dst, int64_t n);
float vec_dot_q4_0(int64_t n, const void* weight, const void* act);  // act: Q8_0
float vec_dot_q4_1(int64_t n, const void* weight, const void* act);  // act: Q8_1
float vec_dot_q5_0(int64_t n, const void* weight, const void* act);  // act: Q8_0
float vec_dot_q5_1(int64_t n, const void* weight, const void* act);  // act: Q8_1
float vec_dot_q8_0(int64_t n, const void* weight, const void* act);  // act: Q8_0

// ---- k-quants (256-element super-blocks); activations are Q8_K
void dequantize_q2_K(const void* src, float* dst, int64_t n);
void dequantize_q3_K(const void* src, float* dst, int64_t n);
void dequantize_q4_K(const void* src, float* dst, int64_t n);
void dequantize_q5_K(const void* src, float* dst, int64_t n);
void dequantize_q6_K(const void* src, float* dst, int64_t n);
void dequantize_q8_K(const void* src, float* dst, int64_t n);
void quantize_q2_K(const float* src, void* dst, int64_t n);
void quantize_q3_K(const float* src, void* dst, int64_t n);
void quantize_q4_K(const float* src, void* dst, int64_t n);
void quantize_q5_K(const float* src, void* dst, int64_t n);
void quantize_q6_K(const float* src, void* dst, int64_t n);
void quantize_q8_K(const float* src, void* dst, int64_t n);
float vec_dot_q2_K(int64_t n, const void* weight, const void* act);
float vec_dot_q3_K(int64_t n, const void* weight, const void* act);
float vec_dot_q4_K(int64_t n, const void* weight, const void* act);
float vec_dot_q5_K(int64_t n, const void* weight, const void* act);
float vec_dot_q6_K(int64_t n, const void* weight, const void* act);

// ---- non-linear 4-bit
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_iq4_nl(const float* src, void* dst, int64_t n);
void quantize_iq4_xs(const float* src, void* dst, int64_t n);
float vec_dot_iq4_nl(int64_t n, const void* weight, const void* act);  // act: Q8_0
float vec_dot_iq4_xs(int64_t n, const void* weight, const void* act);  // act: Q8_K

// ---- lattice types (IQ1/IQ2/IQ3; iq_lattice_quants.cpp); activations Q8_K
void dequantize_iq2_xxs(const void* src, float* dst, int64_t n);
void dequantize_iq2_xs(const void* src, float* dst, int64_t n);
void dequantize_iq2_s(const void* src, float* dst, int64_t n);
void dequantize_iq3_xxs(const void* src, float* dst, int64_t n);
void dequantize_iq3_s(const void* src, float* dst, int64_t n);
void dequantize_iq1_s(const void* src, float* dst, int64_t n);
void dequantize_iq1_m(const void* src, float* dst, int64_t n);
float vec_dot_iq2_xxs(int64_t n, const void* weight, const void* act);
float vec_dot_iq2_xs(int64_t n, const void* weight, const void* act);
float vec_dot_iq2_s(int64_t n, const void* weight, const void* act);
float vec_dot_iq3_xxs(int64_t n, const void* weight, const void* act);
float vec_dot_iq3_s(int64_t n, const void* weight, const void* act);
float vec_dot_iq1_s(int64_t n, const void* weight, const void* act);
float vec_dot_iq1_m(int64_t n, const void* weight, const void* act);
// IQ3_XXS / IQ3_S quantization (iq3_quantize.cpp); `importance` (n values,
// may be null) weighs each column as llama-quantize's importance matrix does.
void quantize_iq3_xxs(const float* src, void* dst, int64_t n);
void quantize_iq3_xxs_weighted(const float* src, void* dst, int64_t n, const float* importance);
void quantize_iq3_s(const float* src, void* dst, int64_t n);
void quantize_iq3_s_weighted(const float* src, void* dst, int64_t n, const float* importance);
// IQ2_S / IQ2_XS quantization (iq2_quantize.cpp); IQ2_XS requires `importance`.
void quantize_iq2_s(const float* src, void* dst, int64_t n);
void quantize_iq2_s_weighted(const float* src, void* dst, int64_t n, const float* importance);
void quantize_iq2_xs_weighted(const float* src, void* dst, int64_t n, const float* importance);
void quantize_iq2_xxs_weighted(const float* src, void* dst, int64_t n, const float* importance);  // requires importance
// IQ1_S / IQ1_M quantization (iq1_quantize.cpp); IQ1_S requires `importance`.
void quantize_iq1_s_weighted(const float* src, void* dst, int64_t n, const float* importance);
void quantize_iq1_m(const float* src, void* dst, int64_t n);
void quantize_iq1_m_weighted(const float* src, void* dst, int64_t n, const float* importance);

// ---- ternary and FP4 (ternary_fp4_quants.cpp)
void dequantize_tq1_0(const void* src, float* dst, int64_t n);
void dequantize_tq2_0(const void* src, float* dst, int64_t n);
void dequantize_mxfp4(const void* src, float* dst, int64_t n);
void quantize_tq1_0(const float* src, void* dst, int64_t n);
void quantize_tq2_0(const float* src, void* dst, int64_t n);
void quantize_mxfp4(const float* src, void* dst, int64_t n);
float vec_dot_tq1_0(int64_t n, const void* weight, const void* act);  // act: Q8_K
float vec_dot_tq2_0(int64_t n, const void* weight, const void* act);  // act: Q8_K
float vec_dot_mxfp4(int64_t n, const void* weight, const void* act);  // act: Q8_0
// MXFP4's block scale: 2^(e - 128) (E8M0 halved, since the levels are doubled).
float mxfp4_scale(uint8_t e);

// Unpacks the 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K.
inline void k4_scale_min(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = uint8_t((packed[j + 4] & 0xf) | ((packed[j - 4] >> 6) << 4));
    *min = uint8_t((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Unpacks the 16 signed 6-bit scales of a Q3_K block (each minus 32).
inline void q3_k_scales(const uint8_t* packed, int8_t* scales) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (packed[j] & 0xf) : (packed[j - 8] >> 4);
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = int8_t((low | (high << 4)) - 32);
  }
}

}  // namespace hearth::ref

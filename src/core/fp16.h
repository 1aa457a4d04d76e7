// Half-precision (IEEE binary16) and bfloat16 conversions, bit-exact with
// what ggml stores and computes:
//  - f32 -> f16 rounds to nearest, ties to even (like F16C's vcvtps2ph with
//    imm 0, which ggml's CPU backend uses); overflow gives infinity, values
//    below half the smallest subnormal give signed zero; NaN stays NaN (quiet,
//    top payload bits kept, as the hardware does).
//  - f32 -> bf16 is ggml's rule: NaN -> quiet NaN with the upper 16 bits kept,
//    else round to nearest even on the upper 16 bits (no flush of subnormals).
//  - the widening conversions are exact (a signalling f16 NaN comes back quiet).
#pragma once

#include <bit>
#include <cstdint>

namespace hearth {

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    // inf, or NaN made quiet with its payload kept (as vcvtph2ps does)
    bits = sign | 0x7f800000u | (mantissa << 13) | (mantissa != 0 ? 0x400000u : 0u);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // 112 = 127 - 15
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: value = mantissa * 2^-24, exactly representable in f32.
    const float magnitude = float(mantissa) * 0x1p-24f;
    bits = sign | std::bit_cast<uint32_t>(magnitude);
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) {  // NaN: keep the top payload bits, force quiet
    return uint16_t(sign | 0x7e00u | ((abs_bits >> 13) & 0x3ffu));
  }
  if (abs_bits >= 0x477ff000u) {  // >= 65520 rounds to infinity (and inf itself)
    return uint16_t(sign | 0x7c00u);
  }
  if (abs_bits >= 0x38800000u) {  // normal half range (>= 2^-14)
    // Re-bias the exponent, then round the 13 dropped mantissa bits to even;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t rebased = abs_bits - (uint32_t(112) << 23);
    const uint32_t round_bias = 0xfffu + ((rebased >> 13) & 1u);
    return uint16_t(sign | ((rebased + round_bias) >> 13));
  }
  if (abs_bits < 0x33000001u) {  // <= 2^-25 (half of the smallest subnormal): zero
    return sign;
  }
  // Subnormal half: shift the full significand so one unit = 2^-24, round to even.
  const uint32_t exponent = abs_bits >> 23;  // 102 .. 112
  const uint32_t significand = (abs_bits & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14 .. 24
  const uint32_t truncated = significand >> shift;
  const uint32_t remainder = significand & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  uint32_t rounded = truncated;
  if (remainder > halfway || (remainder == halfway && (truncated & 1u))) ++rounded;
  return uint16_t(sign | rounded);  // rounded may reach 0x400: the smallest normal
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 64u);  // quiet NaN
  return uint16_t((bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
}

// Rounds through f16 and back (what storing a value in an f16 tensor does).
inline float round_to_fp16(float f) { return fp16_to_fp32(fp32_to_fp16(f)); }

}  // namespace hearth

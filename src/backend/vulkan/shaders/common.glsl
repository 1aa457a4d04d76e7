// Shared by every shader. Buffers are bound whole as arrays of 32-bit words
// (no 8/16-bit storage extension needed): tensors start at byte offsets the
// push constants give, and quantized blocks are read a byte or half at a time.
// Float conversions are done bit by bit so they round exactly as the host's
// (core/fp16.h), whatever the driver's conversion rounding.

// The flat workgroup index of a dispatch spread over x and y (x <= 65535).
uint group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

#define LOAD_U8(buf, b) ((buf[(b) >> 2] >> (((b) & 3u) * 8u)) & 0xffu)
#define LOAD_I8(buf, b) (int(LOAD_U8(buf, b) << 24) >> 24)
#define LOAD_U16(buf, b) ((buf[(b) >> 2] >> (((b) & 2u) * 8u)) & 0xffffu)
#define LOAD_U32_HALVES(buf, b) (LOAD_U16(buf, b) | (LOAD_U16(buf, (b) + 2u) << 16))
#define LOAD_F16(buf, b) half_to_float(LOAD_U16(buf, b))
#define LOAD_F32(buf, b) uintBitsToFloat(buf[(b) >> 2])

float half_to_float(uint h) { return unpackHalf2x16(h).x; }  // exact: every half is a float

// f32 -> f16 bits, round to nearest even (core/fp16.h's fp32_to_fp16).
uint float_to_half(float f) {
  uint bits = floatBitsToUint(f);
  uint sign = (bits >> 16) & 0x8000u;
  uint abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return sign | 0x7e00u | ((abs_bits >> 13) & 0x3ffu);
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;
  if (abs_bits >= 0x38800000u) {
    uint rebased = abs_bits - (112u << 23);
    return sign | ((rebased + 0xfffu + ((rebased >> 13) & 1u)) >> 13);
  }
  if (abs_bits < 0x33000001u) return sign;
  uint exponent = abs_bits >> 23;
  uint significand = (abs_bits & 0x7fffffu) | 0x800000u;
  uint shift = 126u - exponent;
  uint truncated = significand >> shift;
  uint remainder = significand & ((1u << shift) - 1u);
  uint halfway = 1u << (shift - 1u);
  if (remainder > halfway || (remainder == halfway && (truncated & 1u) != 0u)) truncated += 1u;
  return sign | truncated;
}
float round_to_half(float f) { return half_to_float(float_to_half(f)); }

uint float_to_bf16(float f) {
  uint bits = floatBitsToUint(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (bits >> 16) | 64u;
  return (bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16;
}
float bf16_to_float(uint h) { return uintBitsToFloat(h << 16); }

// a / b rounded correctly (Vulkan allows division 2.5 ulp off): the
// residual a - q * b computed exactly with Dekker's product (fma may be split
// into a multiply and an add by some drivers), then one correction step.
void split_float(float v, out float hi, out float lo) {
  precise float c = 4097.0 * v;
  precise float big = c - v;
  hi = c - big;
  lo = v - hi;
}
float div_rn(float a, float b) {
  float q = a / b;
  float qh, ql, bh, bl;
  split_float(q, qh, ql);
  split_float(b, bh, bl);
  precise float product = q * b;
  precise float error = ((qh * bh - product) + qh * bl + ql * bh) + ql * bl;
  precise float residual = (a - product) - error;
  precise float result = q + residual / b;
  return result;
}

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

// s + e = a + b exactly (Knuth's TwoSum), for sums as exact as the host's
// double ones.
void two_sum(float a, float b, out float s, out float e) {
  precise float sum = a + b;
  precise float b_part = sum - a;
  precise float error = (a - (sum - b_part)) + (b - b_part);
  s = sum;
  e = error;
}
// 1 / (hi + lo) rounded as float(1.0 / double(hi + lo)) is (a compensated
// sum's reciprocal): q = 1/hi, then one Newton step on the exact residual.
float reciprocal_of_pair(float hi, float lo) {
  float q = div_rn(1.0, hi);
  float qh, ql, hh, hl;
  split_float(q, qh, ql);
  split_float(hi, hh, hl);
  precise float product = q * hi;
  precise float error = ((qh * hh - product) + qh * hl + ql * hh) + ql * hl;
  precise float residual = ((1.0 - product) - error) - q * lo;
  precise float result = q + q * residual;
  return result;
}

// a * b = p + e exactly (Dekker's product; fma is not relied on).
void two_prod(float a, float b, out float p, out float e) {
  float ah, al, bh, bl;
  split_float(a, ah, al);
  split_float(b, bh, bl);
  precise float product = a * b;
  precise float error = ((ah * bh - product) + ah * bl + al * bh) + al * bl;
  p = product;
  e = error;
}

// exp(x) rounded as the host's expf rounds it (correctly, in all but the
// rarest cases): drivers' exp() may be several ulp off (lavapipe's is), and
// a softmax's probabilities rounded to f16, SiLU and the MoE router would
// then part from the host's by more than float rounding. Cody-Waite
// reduction by ln 2 in three parts (n * C1 and n * C2 exact for |n| <= 255),
// exp(r) with its leading terms in float-float, one final rounding.
float exp_rn(float x) {
  if (isnan(x)) return x;
  if (x > 88.73) return 1.0 / 0.0;
  if (x < -104.0) return 0.0;
  const float C1 = 0.693145751953125, C2 = 1.4285906217992306e-06, C3 = 1.619850954759361e-11;
  float n = roundEven(x * 1.4426950216293335);
  precise float a = x - n * C1;  // exact (Sterbenz)
  float rh, rl;
  two_sum(a, -(n * C2), rh, rl);
  precise float r_low = rl - n * C3;
  // exp(rh) = 1 + rh + rh^2 (1/2 + rh (1/6 + rh q)), q in float.
  precise float q = 0.0416666679084301 +
      rh * (0.008333333767950535 + rh * (0.0013888889225199819 + rh * (0.00019841270113829523 +
      rh * (2.4801587642286904e-05 + rh * 2.7557318844628753e-06))));
  float a1, a1e, uh, ul;
  two_prod(rh, q, a1, a1e);
  two_sum(0.1666666716337204, a1, uh, ul);
  precise float u_low = ul + (a1e - 4.967053879312289e-09);
  float b, be, vh, vl;
  two_prod(rh, uh, b, be);
  two_sum(0.5, b, vh, vl);
  precise float v_low = vl + (be + rh * u_low);
  float s, se, wh, we;
  two_prod(rh, rh, s, se);
  two_prod(s, vh, wh, we);
  precise float w_low = we + (s * v_low + se * vh);
  float t1, t1e, t2, t2e;
  two_sum(1.0, rh, t1, t1e);
  two_sum(t1, wh, t2, t2e);
  // exp(rh + r_low) = exp(rh) (1 + r_low + ...).
  precise float low = ((t1e + t2e) + w_low) + (r_low + r_low * (rh + wh));
  precise float result = t2 + low;
  return ldexp(result, int(n));
}

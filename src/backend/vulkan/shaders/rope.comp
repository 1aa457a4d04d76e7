#version 450
// Rotary position embedding, in place: one invocation per (row, head, pair).
// theta advances by repeated float multiplication and the angle is reduced
// to [-pi, pi] before cos/sin, so results follow the host's closely.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) buffer X { uint x[]; };
layout(binding = 1) readonly buffer Pos { int positions[]; };
layout(binding = 2) readonly buffer Freq { uint freq_factors[]; };
layout(push_constant) uniform Params {
  uint rows, n_heads, head_dim, n_dims, neox;
  uint x_off, x_stride, pos_off, ff_off, has_ff;  // offsets/stride in elements
  float theta_scale, freq_scale, ext_factor, mscale, corr_low, corr_high;
} p;

float reduce_angle(float a) {
  // a - k * 2pi, with 2pi split in parts of 8 significant bits (Cody-Waite)
  // so every k * part is exact in float (k < 2^16, positions past 400K) and
  // no fma is needed (some drivers split it into a multiply and an add).
  float k = roundEven(a * 0.159154943091895336);
  precise float r = a - k * 6.28125;
  r = r - k * 0.00193023681640625;
  r = r - k * 5.066394805908203e-06;
  r = r - k * 3.968374073792802e-09;
  return r;
}

void main() {
  uint half_dims = p.n_dims / 2u;
  uint e = group_index() * 64u + gl_LocalInvocationID.x;
  if (e >= p.rows * p.n_heads * half_dims) return;
  uint k = e % half_dims;
  uint h = (e / half_dims) % p.n_heads;
  uint r = e / (half_dims * p.n_heads);
  precise float theta = float(positions[p.pos_off + r]);
  for (uint i = 0u; i < k; ++i) theta = theta * p.theta_scale;
  float factor = p.has_ff != 0u ? uintBitsToFloat(freq_factors[p.ff_off + k]) : 1.0;
  precise float theta_extrap = theta / factor;
  precise float theta_interp = p.freq_scale * theta_extrap;
  precise float angle = theta_interp;
  if (p.ext_factor != 0.0) {
    float y = (float(k) - p.corr_low) / max(0.001, p.corr_high - p.corr_low);
    precise float mix = (1.0 - min(1.0, max(0.0, y))) * p.ext_factor;
    angle = theta_interp * (1.0 - mix) + theta_extrap * mix;
  }
  float reduced = reduce_angle(angle);
  precise float c = cos(reduced) * p.mscale;
  precise float s = sin(reduced) * p.mscale;
  uint base = p.x_off + r * p.x_stride + h * p.head_dim;
  uint a = p.neox != 0u ? k : 2u * k;
  uint b = p.neox != 0u ? k + half_dims : 2u * k + 1u;
  float x0 = uintBitsToFloat(x[base + a]), x1 = uintBitsToFloat(x[base + b]);
  precise float out0 = x0 * c - x1 * s;
  precise float out1 = x0 * s + x1 * c;
  x[base + a] = floatBitsToUint(out0);
  x[base + b] = floatBitsToUint(out1);
}

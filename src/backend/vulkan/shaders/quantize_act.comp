#version 450
// Activations to Q8_0 / Q8_1 levels as ggml's x86 from_float does (scale
// amax/127, multiplier 127/amax, round half to even), in the scratch layout
// of types.glsl: one invocation per 32-element block.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { uint x[]; };
layout(binding = 1) buffer A { uint a[]; };
layout(push_constant) uniform Params {
  uint n, rows;
  uint x_off, x_stride;  // floats
  uint a_off;            // words
} p;

void main() {
  uint blocks_per_row = p.n / 32u;
  uint e = group_index() * 64u + gl_LocalInvocationID.x;
  if (e >= blocks_per_row * p.rows) return;
  uint r = e / blocks_per_row, b = e % blocks_per_row;
  uint src = p.x_off + r * p.x_stride + b * 32u;
  float amax = 0.0;
  for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(uintBitsToFloat(x[src + j])));
  float d = div_rn(amax, 127.0);
  float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  uint dst = p.a_off + (r * blocks_per_row + b) * 10u;
  int sum = 0;
  for (uint w = 0u; w < 8u; ++w) {
    uint word = 0u;
    for (uint k = 0u; k < 4u; ++k) {
      precise float scaled = uintBitsToFloat(x[src + 4u * w + k]) * id;
      int q = int(roundEven(scaled));
      sum += q;
      word |= (uint(q) & 0xffu) << (8u * k);
    }
    a[dst + w] = word;
  }
  float d_half = round_to_half(d);
  precise float s = d * float(sum);
  a[dst + 8u] = floatBitsToUint(d_half);
  a[dst + 9u] = floatBitsToUint(round_to_half(s));
}

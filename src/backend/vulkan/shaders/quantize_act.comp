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
  uint super_blocks;     // 1: Q8_K (256 elements, f32 scale, 16 sums)
} p;

// Q8_K as ggml's quantize_row_q8_K: scale -127/max of the signed extreme,
// levels rounded to nearest even and capped at 127, d = 1/scale.
void quantize_q8_k(uint r, uint b, uint blocks_per_row) {
  uint src = p.x_off + r * p.x_stride + b * 256u;
  uint dst = p.a_off + (r * blocks_per_row + b) * 81u;
  float amax = 0.0, max_value = 0.0;
  for (uint j = 0u; j < 256u; ++j) {
    float v = uintBitsToFloat(x[src + j]);
    if (abs(v) > amax) { amax = abs(v); max_value = v; }
  }
  if (amax == 0.0) {
    for (uint w = 0u; w < 81u; ++w) a[dst + w] = 0u;
    return;
  }
  float iscale = div_rn(-127.0, max_value);
  for (uint g = 0u; g < 16u; ++g) {
    int sum = 0;
    for (uint w = 0u; w < 4u; ++w) {
      uint word = 0u;
      for (uint k = 0u; k < 4u; ++k) {
        precise float scaled = iscale * uintBitsToFloat(x[src + 16u * g + 4u * w + k]);
        int q = min(127, int(roundEven(scaled)));
        sum += q;
        word |= (uint(q) & 0xffu) << (8u * k);
      }
      a[dst + 4u * g + w] = word;
    }
    a[dst + 65u + g] = uint(sum);
  }
  a[dst + 64u] = floatBitsToUint(div_rn(1.0, iscale));
}

void main() {
  if (p.super_blocks != 0u) {
    uint per_row = p.n / 256u;
    uint e = group_index() * 64u + gl_LocalInvocationID.x;
    if (e < per_row * p.rows) quantize_q8_k(e / per_row, e % per_row, per_row);
    return;
  }
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

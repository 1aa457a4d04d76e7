#version 450
// x *= H / sqrt(block) per block of `block` values (a power of two, at most
// 4096), in place: one workgroup per block, the fast Walsh-Hadamard
// butterflies in shared memory in the host's order, so results are its bits.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) buffer X { uint x[]; };
layout(push_constant) uniform Params {
  uint block, n_blocks, x_off;  // x_off in floats
  float norm;
} p;
shared float v[4096];

void main() {
  uint b = group_index();
  if (b >= p.n_blocks) return;
  uint t = gl_LocalInvocationID.x;
  uint base = p.x_off + b * p.block;
  for (uint i = t; i < p.block; i += 256u) v[i] = uintBitsToFloat(x[base + i]);
  barrier();
  for (uint h = 1u; h < p.block; h *= 2u) {
    for (uint pair = t; pair < p.block / 2u; pair += 256u) {
      uint j = (pair / h) * 2u * h + pair % h;
      float a = v[j], c = v[j + h];
      precise float sum = a + c;
      precise float difference = a - c;
      v[j] = sum;
      v[j + h] = difference;
    }
    barrier();
  }
  for (uint i = t; i < p.block; i += 256u) {
    precise float scaled = v[i] * p.norm;
    x[base + i] = floatBitsToUint(scaled);
  }
}

#version 450
// out[r][i] = sum over slots k (in order) of weights[r][k] * down[r * n_used + k][i].
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer D { uint down[]; };
layout(binding = 1) readonly buffer Wt { uint weights[]; };
layout(binding = 2) buffer O { uint o[]; };
layout(push_constant) uniform Params {
  uint n, rows, n_used;
  uint d_off, w_off, w_stride, o_off, o_stride;  // floats
} p;

void main() {
  uint e = group_index() * 256u + gl_LocalInvocationID.x;
  if (e >= p.n * p.rows) return;
  uint r = e / p.n, i = e % p.n;
  precise float sum = 0.0;
  for (uint k = 0u; k < p.n_used; ++k) {
    precise float term = uintBitsToFloat(down[p.d_off + (r * p.n_used + k) * p.n + i]) *
                         uintBitsToFloat(weights[p.w_off + r * p.w_stride + k]);
    sum = k == 0u ? term : sum + term;
  }
  o[p.o_off + r * p.o_stride + i] = floatBitsToUint(sum);
}

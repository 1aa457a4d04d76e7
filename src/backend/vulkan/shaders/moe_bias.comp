#version 450
// y[s][i] += bias[ids[s]][i]: each (row, slot) of an MoE projection gets its
// expert's bias (gpt-oss), one rounding as the host's add_rows.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) buffer Y { uint y[]; };
layout(binding = 1) readonly buffer B { uint bias[]; };
layout(binding = 2) readonly buffer Ids { int ids[]; };
layout(push_constant) uniform Params {
  uint n, slots, n_expert;
  uint y_off, b_off, ids_off;  // in elements
} p;

void main() {
  uint e = group_index() * 256u + gl_LocalInvocationID.x;
  if (e >= p.n * p.slots) return;
  uint s = e / p.n, i = e % p.n;
  uint expert = uint(ids[p.ids_off + s]);
  if (expert >= p.n_expert) return;
  precise float v = uintBitsToFloat(y[p.y_off + e]) + uintBitsToFloat(bias[p.b_off + expert * p.n + i]);
  y[p.y_off + e] = floatBitsToUint(v);
}

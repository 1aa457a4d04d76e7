#version 450
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) (* weight): one workgroup per row.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { uint x[]; };
layout(binding = 1) readonly buffer W { uint w[]; };
layout(binding = 2) buffer Y { uint y[]; };
layout(push_constant) uniform Params {
  uint n, rows;
  uint x_off, x_stride, y_off, y_stride, w_off;  // in floats
  uint has_weight;
  float eps;
} p;
shared float partial[64];

void main() {
  uint r = group_index();
  if (r >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  float sum = 0.0;
  for (uint i = t; i < p.n; i += 64u) {
    float v = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]);
    precise float square = v * v;
    sum += square;
  }
  partial[t] = sum;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s) partial[t] += partial[t + s];
    barrier();
  }
  precise float mean = partial[0] / float(p.n);
  float scale = 1.0 / sqrt(mean + p.eps);
  for (uint i = t; i < p.n; i += 64u) {
    precise float v = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]) * scale;
    if (p.has_weight != 0u) v = v * uintBitsToFloat(w[p.w_off + i]);
    y[p.y_off + r * p.y_stride + i] = floatBitsToUint(v);
  }
}

#version 450
// y[r] = (x[r] - mean) / sqrt(var + eps) (* weight) (+ bias), as ggml_norm
// and then its mul and add (three roundings): one workgroup per row, the
// sums over 64 lanes then a tree (the host sums in double; the difference
// is rounding). In place is fine: every lane reads its elements of x before
// it writes them, and the sums are complete before anyone writes.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { uint x[]; };
layout(binding = 1) readonly buffer Wt { uint w[]; };
layout(binding = 2) readonly buffer B { uint b[]; };
layout(binding = 3) buffer Y { uint y[]; };
layout(push_constant) uniform Params {
  uint n, rows;
  uint x_off, x_stride, y_off, y_stride, w_off, b_off;  // in floats
  uint has_weight, has_bias;
  float eps;
} p;
shared float partial[64];

float row_sum(float lane_sum) {
  uint t = gl_LocalInvocationID.x;
  partial[t] = lane_sum;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s) partial[t] += partial[t + s];
    barrier();
  }
  float total = partial[0];
  barrier();  // partial is reused
  return total;
}

void main() {
  uint r = group_index();
  if (r >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  uint xr = p.x_off + r * p.x_stride;
  float sum = 0.0;
  for (uint i = t; i < p.n; i += 64u) sum += uintBitsToFloat(x[xr + i]);
  precise float mean = row_sum(sum) / float(p.n);
  float sum2 = 0.0;
  for (uint i = t; i < p.n; i += 64u) {
    precise float v = uintBitsToFloat(x[xr + i]) - mean;
    precise float square = v * v;
    sum2 += square;
  }
  precise float variance = row_sum(sum2) / float(p.n);
  float scale = 1.0 / sqrt(variance + p.eps);
  for (uint i = t; i < p.n; i += 64u) {
    precise float v = (uintBitsToFloat(x[xr + i]) - mean) * scale;
    if (p.has_weight != 0u) v = v * uintBitsToFloat(w[p.w_off + i]);
    if (p.has_bias != 0u) v = v + uintBitsToFloat(b[p.b_off + i]);
    y[p.y_off + r * p.y_stride + i] = floatBitsToUint(v);
  }
}

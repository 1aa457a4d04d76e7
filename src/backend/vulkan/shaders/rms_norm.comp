#version 450
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) (* weight): one workgroup per row.
// As the host: the float squares summed exactly (compensated, where the
// host sums in double), the mean, square root and reciprocal each rounded
// once (lavapipe's sqrt and division are not).
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
shared float partial_low[64];

// sqrt(a) correctly rounded: one Newton step on the exact residual.
float sqrt_rn(float a) {
  float s = sqrt(a);
  if (a == 0.0 || isinf(a)) return s;
  float square, square_error;
  two_prod(s, s, square, square_error);
  precise float residual = (a - square) - square_error;
  precise float result = s + residual / (2.0 * s);
  return result;
}

void main() {
  uint r = group_index();
  if (r >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  float sum = 0.0, low = 0.0;
  for (uint i = t; i < p.n; i += 64u) {
    float v = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]);
    precise float square = v * v;
    float error;
    two_sum(sum, square, sum, error);
    low += error;
  }
  partial[t] = sum;
  partial_low[t] = low;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s) {
      float hi, error;
      two_sum(partial[t], partial[t + s], hi, error);
      partial_low[t] = partial_low[t] + partial_low[t + s] + error;
      partial[t] = hi;
    }
    barrier();
  }
  // mean = (hi + low) / n, rounded once.
  float hi = partial[0], n = float(p.n);
  float q = div_rn(hi, n), qn, qn_error;
  two_prod(q, n, qn, qn_error);
  precise float residual = ((hi - qn) - qn_error) + partial_low[0];
  precise float mean = q + residual / n;
  precise float shifted = mean + p.eps;
  float scale = div_rn(1.0, sqrt_rn(shifted));
  for (uint i = t; i < p.n; i += 64u) {
    precise float v = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]) * scale;
    if (p.has_weight != 0u) v = v * uintBitsToFloat(w[p.w_off + i]);
    y[p.y_off + r * p.y_stride + i] = floatBitsToUint(v);
  }
}

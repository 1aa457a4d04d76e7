#version 450
// y = op(y, x) over rows of n floats: add, add_rows (x one row), scale, softcap.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) buffer Y { uint y[]; };
layout(binding = 1) readonly buffer X { uint x[]; };
layout(push_constant) uniform Params {
  uint op;        // 0 add, 1 add_rows, 2 scale, 3 softcap
  uint n, rows;
  uint y_off, y_stride;  // in floats
  uint x_off, x_stride;  // in floats; 0 stride repeats one row
  float value;           // scale factor or cap
} p;

void main() {
  uint e = group_index() * 256u + gl_LocalInvocationID.x;
  if (e >= p.n * p.rows) return;
  uint r = e / p.n, i = e % p.n;
  uint yi = p.y_off + r * p.y_stride + i;
  precise float v = uintBitsToFloat(y[yi]);
  if (p.op <= 1u) {
    v = v + uintBitsToFloat(x[p.x_off + r * p.x_stride + i]);
  } else if (p.op == 2u) {
    v = v * p.value;
  } else {
    // tanh of a clamped argument: some drivers overflow exp() inside tanh.
    v = p.value * tanh(clamp(v / p.value, -15.0, 15.0));
  }
  y[yi] = floatBitsToUint(v);
}

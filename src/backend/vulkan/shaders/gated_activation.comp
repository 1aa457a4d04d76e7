#version 450
// out[r][i] = act(gate[r][i]) * up[r][i], or act(gate[r][i]) alone
// (ungated: BERT's FFN). act = silu; ggml's CPU GELU (tanh form, input and
// result rounded to f16 as its lookup table does); or gpt-oss's SwiGLU-OAI,
// which takes up itself: min(g, 7) * sigmoid(1.702 min(g, 7)) * (clamp(u, -7, 7) + 1).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer G { uint gate[]; };
layout(binding = 1) readonly buffer U { uint up[]; };
layout(binding = 2) buffer O { uint o[]; };
layout(push_constant) uniform Params {
  uint act, n, rows;  // act: 0 silu, 1 gelu-tanh, 2 swiglu-oai
  uint g_off, g_stride, u_off, u_stride, o_off, o_stride;  // in floats
  uint gated;  // 0: out = act(gate), up unused
} p;

void main() {
  uint e = group_index() * 256u + gl_LocalInvocationID.x;
  if (e >= p.n * p.rows) return;
  uint r = e / p.n, i = e % p.n;
  float g = uintBitsToFloat(gate[p.g_off + r * p.g_stride + i]);
  float u = p.gated != 0u ? uintBitsToFloat(up[p.u_off + r * p.u_stride + i]) : 1.0;
  precise float result;
  if (p.act == 0u) {
    precise float denominator = 1.0 + exp_rn(-g);
    result = (g / denominator) * u;
  } else if (p.act == 2u) {
    precise float limited = min(g, 7.0);
    precise float denominator = 1.0 + exp_rn(1.702 * -limited);
    result = (limited / denominator) * (clamp(u, -7.0, 7.0) + 1.0);
  } else if (g <= -10.0) {
    result = 0.0;
  } else if (g >= 10.0) {
    result = g * u;
  } else {
    precise float x = round_to_half(g);
    precise float inner = 0.79788456080286535587989211986876 * x * (1.0 + 0.044715 * x * x);
    precise float gelu = 0.5 * x * (1.0 + tanh(inner));
    result = round_to_half(gelu) * u;
  }
  o[p.o_off + r * p.o_stride + i] = floatBitsToUint(result);
}

#version 450
// y[r][o] = w[o] . x[r] for one weight type (types.glsl): one workgroup per
// (output row, activation row). Quantized weights take activations already
// quantized (quantize_act.comp) and sum integer products per block, scaled
// once per block, as ggml's vec_dot does; float weights take x rounded to
// their type. Threads take blocks in turn and sum in shared memory.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer Wb { uint W[]; };
layout(binding = 1) readonly buffer X { uint x[]; };
layout(binding = 2) readonly buffer A { uint act[]; };
layout(binding = 3) buffer Y { uint y[]; };
layout(push_constant) uniform Params {
  uint n_in, n_out, rows;
  uint w_off, w_row_bytes;  // bytes
  uint x_off, x_stride;     // floats (float weights)
  uint a_off;               // words (quantized weights)
  uint y_off, y_stride;     // floats
} p;
#include "types.glsl"
shared float partial[64];

void main() {
  uint g = group_index();
  if (g >= p.n_out * p.rows) return;
  uint o = g % p.n_out, r = g / p.n_out;
  uint t = gl_LocalInvocationID.x;
  uint w_row = p.w_off + o * p.w_row_bytes;
  float sum = 0.0;
#if defined(IS_FLOAT)
  for (uint i = t; i < p.n_in; i += 64u) {
    float xv = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]);
#if !defined(WTYPE_F32)
    xv = act_round(xv);
#endif
    precise float product = dequant(w_row + i * BLOCK_BYTES, 0u) * xv;
    sum += product;
  }
#elif defined(IS_K)
  uint n_blocks = p.n_in / QK;
  for (uint b = t; b < n_blocks; b += 64u) {
    uint blk = w_row + b * BLOCK_BYTES;
    uint a_blk = p.a_off + (r * n_blocks + b) * ACT_K_WORDS;
    int dot = 0, min_sum = 0;
    for (uint g = 0u; g < 16u; ++g) {
      int group_dot = 0;
      for (uint j = 0u; j < 16u; ++j) {
        uint l = 16u * g + j;
        int a_level = int(act[a_blk + (l >> 2)] << (24u - 8u * (l & 3u))) >> 24;
        group_dot += klevel(blk, l) * a_level;
      }
      dot += group_scale(blk, g) * group_dot;
#if defined(KMIN)
      min_sum += int(act[a_blk + 65u + g]) * group_min(blk, g);
#endif
    }
    sum += combine(blk, uintBitsToFloat(act[a_blk + 64u]), dot, min_sum);
  }
#else
  uint n_blocks = p.n_in / QK;
  for (uint b = t; b < n_blocks; b += 64u) {
    uint blk = w_row + b * BLOCK_BYTES;
    uint a_blk = p.a_off + (r * n_blocks + b) * ACT_BLOCK_WORDS;
    int isum = 0;
    for (uint j = 0u; j < 32u; ++j) {
      int a_level = int(act[a_blk + (j >> 2)] << (24u - 8u * (j & 3u))) >> 24;
      isum += level(blk, j) * a_level;
    }
    precise float scales = block_scale(blk) * uintBitsToFloat(act[a_blk + 8u]);
    precise float contribution = float(isum) * scales;
#if defined(HAS_MIN)
    contribution = contribution + block_min(blk) * uintBitsToFloat(act[a_blk + 9u]);
#endif
    sum += contribution;
  }
#endif
  partial[t] = sum;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s) partial[t] += partial[t + s];
    barrier();
  }
  if (t == 0u) y[p.y_off + r * p.y_stride + o] = floatBitsToUint(partial[0]);
}

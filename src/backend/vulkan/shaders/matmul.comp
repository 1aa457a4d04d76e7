#version 450
// Mat-vec (decode): y[r][o] = w[o] . x[r], one thread per output row,
// summing its blocks in order (matmul_common.glsl). Quantized weights take
// activations already quantized (quantize_act.comp) and sum integer products
// per block, scaled once per block, as ggml's vec_dot does; float weights
// take x rounded to their type and sum the products exactly, rounding once
// (the reference sums in double).
#include "common.glsl"
layout(local_size_x = 64) in;
#include "matmul_common.glsl"

void main() {
  uint g = group_index();
  uint groups_per_row = (p.n_out + 63u) / 64u;
  uint o = (g % groups_per_row) * 64u + gl_LocalInvocationID.x;
  uint r = g / groups_per_row;
  if (o >= p.n_out || r >= p.rows) return;
  uint expert = p.use_ids != 0u ? uint(expert_ids[p.ids_off + r]) : 0u;
  uint w_row = p.w_off + expert * p.expert_stride + o * p.w_row_bytes;
  uint ra = r / p.x_row_divisor;  // the activation row
  float sum = 0.0;
#if defined(IS_FLOAT)
  float low = 0.0;
  for (uint i = 0u; i < p.n_in; ++i) accumulate(sum, low, dequant(w_row + i * BLOCK_BYTES, 0u), x_value(ra, i));
  precise float rounded = sum + low;
  sum = rounded;
#else
  uint n_blocks = p.n_in / QK;
  for (uint b = 0u; b < n_blocks; ++b) {
    uint blk = w_row + b * BLOCK_BYTES;
    uint a_blk = p.a_off + (ra * n_blocks + b) * ACT_WORDS;
#if defined(IS_K)
    int dot = 0;
    for (uint gr = 0u; gr < 16u; ++gr) {
      int group_dot = 0;
      for (uint j = 0u; j < 16u; ++j) group_dot += klevel(blk, 16u * gr + j) * act_level(a_blk, 16u * gr + j);
      dot += group_scale(blk, gr) * group_dot;
    }
    sum += k_contribution(blk, a_blk, dot);
#else
    int isum = 0;
    for (uint j = 0u; j < 32u; ++j) isum += level(blk, j) * act_level(a_blk, j);
    sum += block_contribution(blk, a_blk, isum);
#endif
  }
#endif
  y[p.y_off + r * p.y_stride + o] = floatBitsToUint(sum);
}

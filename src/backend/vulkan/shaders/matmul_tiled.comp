#version 450
// Tiled matmul (prefill): a workgroup computes a tile of 8 weight rows x 8
// activation rows. Each block of the 8 weight rows is decoded to integer
// levels (or floats) in shared memory once for all 8 activation rows, and
// each thread forms one (weight row, activation row) result, summing blocks
// in the same order and with the same float operations as matmul.comp.
#include "common.glsl"
layout(local_size_x = 64) in;
#include "matmul_common.glsl"
#define TILE 8u
#if defined(IS_FLOAT)
#define CHUNK 32u
shared float w_tile[TILE][CHUNK];
shared float x_tile[TILE][CHUNK];
#else
#define CHUNK QK
shared int w_tile[TILE][CHUNK];
shared int x_tile[TILE][CHUNK];
#endif

void main() {
  uint g = group_index();
  uint tiles_o = (p.n_out + TILE - 1u) / TILE;
  uint o0 = (g % tiles_o) * TILE, r0 = (g / tiles_o) * TILE;
  if (r0 >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  uint ol = t % TILE, rl = t / TILE;
  uint o = o0 + ol, r = r0 + rl;
  bool in_tile = o < p.n_out && r < p.rows;
  float sum = 0.0;
#if defined(IS_FLOAT)
  float low = 0.0;
  for (uint c0 = 0u; c0 < p.n_in; c0 += CHUNK) {
    for (uint idx = t; idx < TILE * CHUNK; idx += 64u) {
      uint row = idx / CHUNK, i = c0 + idx % CHUNK;
      bool inside = i < p.n_in;
      w_tile[row][idx % CHUNK] = inside && o0 + row < p.n_out
                                     ? dequant(p.w_off + (o0 + row) * p.w_row_bytes + i * BLOCK_BYTES, 0u) : 0.0;
      x_tile[row][idx % CHUNK] = inside && r0 + row < p.rows ? x_value(r0 + row, i) : 0.0;
    }
    barrier();
    uint count = min(CHUNK, p.n_in - c0);
    for (uint i = 0u; i < count; ++i) accumulate(sum, low, w_tile[ol][i], x_tile[rl][i]);
    barrier();
  }
  precise float rounded = sum + low;
  sum = rounded;
#else
  uint n_blocks = p.n_in / QK;
  for (uint b = 0u; b < n_blocks; ++b) {
    for (uint idx = t; idx < TILE * CHUNK; idx += 64u) {
      uint row = idx / CHUNK, l = idx % CHUNK;
      w_tile[row][l] = o0 + row < p.n_out ? level_of(p.w_off + (o0 + row) * p.w_row_bytes + b * BLOCK_BYTES, l) : 0;
      x_tile[row][l] = r0 + row < p.rows ? act_level(p.a_off + ((r0 + row) * n_blocks + b) * ACT_WORDS, l) : 0;
    }
    barrier();
    if (in_tile) {
      uint blk = p.w_off + o * p.w_row_bytes + b * BLOCK_BYTES;
      uint a_blk = p.a_off + (r * n_blocks + b) * ACT_WORDS;
#if defined(IS_K)
      int dot = 0;
      for (uint gr = 0u; gr < 16u; ++gr) {
        int group_dot = 0;
        for (uint j = 0u; j < 16u; ++j) group_dot += w_tile[ol][16u * gr + j] * x_tile[rl][16u * gr + j];
        dot += group_scale(blk, gr) * group_dot;
      }
      sum += k_contribution(blk, a_blk, dot);
#else
      int isum = 0;
      for (uint j = 0u; j < 32u; ++j) isum += w_tile[ol][j] * x_tile[rl][j];
      sum += block_contribution(blk, a_blk, isum);
#endif
    }
    barrier();
  }
#endif
  if (in_tile) y[p.y_off + r * p.y_stride + o] = floatBitsToUint(sum);
}

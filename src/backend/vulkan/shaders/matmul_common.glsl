// Shared by matmul.comp (mat-vec) and matmul_tiled.comp: the bindings, the
// push constants, and each block's float contribution. Both kernels sum a
// row's blocks one after another in the same order with the same float
// operations, so a row's result never depends on how many rows were
// multiplied together (batch invariance), and for the quantized types it
// follows the reference's per-block order exactly.
layout(binding = 0) readonly buffer Wb { uint W[]; };
layout(binding = 1) readonly buffer X { uint x[]; };
layout(binding = 2) readonly buffer A { uint act[]; };
layout(binding = 3) buffer Y { uint y[]; };
layout(binding = 4) readonly buffer Ids { int expert_ids[]; };
layout(push_constant) uniform Params {
  uint n_in, n_out, rows;
  uint w_off, w_row_bytes;  // bytes
  uint x_off, x_stride;     // floats (float weights)
  uint a_off;               // words (quantized weights)
  uint y_off, y_stride;     // floats
  // MoE (mat-vec only): output row s multiplies expert expert_ids[ids_off + s]
  // (expert_stride bytes apart in the weight stack) with activation row
  // s / x_row_divisor.
  uint use_ids, ids_off, expert_stride, x_row_divisor;
} p;
#define GRID_BINDING 5  // the lattice grids (types_lattice.glsl)
#include "types.glsl"

#if defined(IS_FLOAT)
// sum += w * x, compensated: (sum, low) carries the exact sum of the exact
// products (f16 and bf16 products are exact in float; f32 ones are split),
// so hi + low rounds as the reference's double sum does.
void accumulate(inout float sum, inout float low, float w, float x) {
#if defined(WTYPE_F32)
  float product, product_error;
  two_prod(w, x, product, product_error);
#else
  precise float product = w * x;
  float product_error = 0.0;
#endif
  float error;
  two_sum(sum, product, sum, error);
  precise float new_low = low + (error + product_error);
  low = new_low;
}
float x_value(uint r, uint i) {
  float v = uintBitsToFloat(x[p.x_off + r * p.x_stride + i]);
#if !defined(WTYPE_F32)
  v = act_round(v);
#endif
  return v;
}
#elif defined(IS_K)
#define ACT_WORDS ACT_K_WORDS
int act_level(uint a_blk, uint l) { return int(act[a_blk + (l >> 2)] << (24u - 8u * (l & 3u))) >> 24; }
// Super-block blk's contribution given its 16 group dot products' scaled sum.
float k_contribution(uint blk, uint a_blk, int dot) {
  int min_sum = 0;
#if defined(KMIN)
  for (uint g = 0u; g < 16u; ++g) min_sum += int(act[a_blk + 65u + g]) * group_min(blk, g);
#elif defined(DELTA8)
  for (uint c = 0u; c < 32u; ++c) {
    int chunk_sum = 0;
    for (uint j = 0u; j < 8u; ++j) chunk_sum += act_level(a_blk, 8u * c + j);
    min_sum += delta8(blk, c) * chunk_sum;
  }
#endif
  return combine(blk, uintBitsToFloat(act[a_blk + 64u]), dot, min_sum);
}
#else
#define ACT_WORDS ACT_BLOCK_WORDS
int act_level(uint a_blk, uint l) { return int(act[a_blk + (l >> 2)] << (24u - 8u * (l & 3u))) >> 24; }
float block_contribution(uint blk, uint a_blk, int isum) {
  precise float scales = block_scale(blk) * uintBitsToFloat(act[a_blk + 8u]);
  precise float contribution = float(isum) * scales;
#if defined(HAS_MIN)
  contribution = contribution + block_min(blk) * uintBitsToFloat(act[a_blk + 9u]);
#endif
  return contribution;
}
#endif

#version 450
// f32 rows into KV cache rows of F32, F16, BF16, Q8_0 (the activation
// quantizer, as ggml's CPU from_float) or Q4_0 (the reference quantizer):
// one invocation per 32-element block. Cache rows start at any even byte,
// so bytes are written with atomics that touch only their own byte.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer X { uint x[]; };
layout(binding = 1) buffer C { uint c[]; };
layout(binding = 2) readonly buffer Pos { int positions[]; };
layout(binding = 3) readonly buffer Tables { int tables[]; };
layout(push_constant) uniform Params {
  uint n, rows, type;       // type: 0 f32, 1 f16, 2 bf16, 3 q8_0, 4 q4_0
  uint x_off, x_stride;     // floats
  uint c_off, c_row_bytes;  // bytes; row r goes to cache row first_row + r, or
  uint first_row;           // when paged, to its position's row through its
  uint paged, pos_off, tables_off, table_stride, block_shift;  // block table
} p;

uint cache_row(uint r) {
  if (p.paged == 0u) return p.first_row + r;
  uint pos = uint(positions[p.pos_off + r]);
  uint block = uint(tables[p.tables_off + r * p.table_stride + (pos >> p.block_shift)]);
  return (block << p.block_shift) | (pos & ((1u << p.block_shift) - 1u));
}

void store_u8(uint b, uint v) {
  uint shift = (b & 3u) * 8u;
  atomicAnd(c[b >> 2], ~(0xffu << shift));
  atomicOr(c[b >> 2], (v & 0xffu) << shift);
}
void store_u16(uint b, uint v) {
  uint shift = (b & 2u) * 8u;
  atomicAnd(c[b >> 2], ~(0xffffu << shift));
  atomicOr(c[b >> 2], (v & 0xffffu) << shift);
}

void main() {
  uint blocks_per_row = (p.n + 31u) / 32u;
  uint e = group_index() * 64u + gl_LocalInvocationID.x;
  if (e >= blocks_per_row * p.rows) return;
  uint r = e / blocks_per_row, b = e % blocks_per_row;
  uint src = p.x_off + r * p.x_stride + b * 32u;
  uint row = p.c_off + cache_row(r) * p.c_row_bytes;
  uint count = min(32u, p.n - b * 32u);
  if (p.type == 0u) {
    for (uint j = 0u; j < count; ++j) c[(row >> 2) + b * 32u + j] = x[src + j];
  } else if (p.type <= 2u) {
    for (uint j = 0u; j < count; ++j) {
      float v = uintBitsToFloat(x[src + j]);
      store_u16(row + 2u * (b * 32u + j), p.type == 1u ? float_to_half(v) : float_to_bf16(v));
    }
  } else if (p.type == 3u) {
    uint blk = row + b * 34u;
    float amax = 0.0;
    for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(uintBitsToFloat(x[src + j])));
    float d = div_rn(amax, 127.0);
    float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
    store_u16(blk, float_to_half(d));
    for (uint j = 0u; j < 32u; ++j) {
      precise float scaled = uintBitsToFloat(x[src + j]) * id;
      store_u8(blk + 2u + j, uint(int(roundEven(scaled))));
    }
  } else {
    uint blk = row + b * 18u;
    float amax = 0.0, max_value = 0.0;
    for (uint j = 0u; j < 32u; ++j) {
      float v = uintBitsToFloat(x[src + j]);
      if (amax < abs(v)) { amax = abs(v); max_value = v; }
    }
    float d = div_rn(max_value, -8.0);
    float id = d != 0.0 ? div_rn(1.0, d) : 0.0;
    store_u16(blk, float_to_half(d));
    for (uint j = 0u; j < 16u; ++j) {
      precise float low_f = uintBitsToFloat(x[src + j]) * id + 8.5;
      precise float high_f = uintBitsToFloat(x[src + j + 16u]) * id + 8.5;
      uint low = uint(min(15, int(low_f)));
      uint high = uint(min(15, int(high_f)));
      store_u8(blk + 2u + j, low | (high << 4));
    }
  }
}

#version 450
// Fused attention with an online softmax (flash): one workgroup per (query
// token, head). Each of the 32 threads takes every 32nd visible key and keeps
// its own running max, sum and output accumulator; the workgroup merges them
// at the end. K and V rows are read in their cache type (F32, F16, BF16,
// Q8_0, Q4_0) through the token's block table when paged. Q is first rounded
// to K's dot-product type (f16 / bf16, or Q8_0 levels for quantized K) as
// ggml does.
#include "common.glsl"
#define THREADS 32u
#define MAX_HEAD_DIM 256u
layout(local_size_x = 32) in;
layout(binding = 0) readonly buffer Q { uint q[]; };
layout(binding = 1) readonly buffer K { uint kc[]; };
layout(binding = 2) readonly buffer V { uint vc[]; };
layout(binding = 3) readonly buffer Pos { int positions[]; };
layout(binding = 4) readonly buffer Tables { int tables[]; };
layout(binding = 5) buffer O { uint o[]; };
layout(push_constant) uniform Params {
  uint n_tokens, n_head, n_head_kv, head_dim;
  uint q_off, q_stride, o_off, o_stride;  // floats
  uint k_off, k_row_bytes, v_off, v_row_bytes;  // bytes
  uint k_type, v_type;                    // 0 f32, 1 f16, 2 bf16, 3 q8_0, 4 q4_0
  uint pos_off, tables_off, table_stride, block_shift;  // table_stride 0: not paged
  uint n_kv, window;
  float scale, softcap;
} p;

shared float q_values[MAX_HEAD_DIM];  // Q rounded to K's type (float K)
shared int q_levels[MAX_HEAD_DIM];    // Q8_0 levels (quantized K)
shared float q_scales[MAX_HEAD_DIM / 32u];
shared float merge[THREADS][33];

// Element i of the K (or V) row starting at byte `row`, as f32.
float load_element(uint type, uint row, uint i, bool is_v) {
  if (type == 0u) return is_v ? LOAD_F32(vc, row + 4u * i) : LOAD_F32(kc, row + 4u * i);
  if (type == 1u) return half_to_float(is_v ? LOAD_U16(vc, row + 2u * i) : LOAD_U16(kc, row + 2u * i));
  if (type == 2u) return bf16_to_float(is_v ? LOAD_U16(vc, row + 2u * i) : LOAD_U16(kc, row + 2u * i));
  uint j = i % 32u;
  if (type == 3u) {
    uint blk = row + (i / 32u) * 34u;
    float d = half_to_float(is_v ? LOAD_U16(vc, blk) : LOAD_U16(kc, blk));
    int level = is_v ? LOAD_I8(vc, blk + 2u + j) : LOAD_I8(kc, blk + 2u + j);
    return float(level) * d;
  }
  uint blk = row + (i / 32u) * 18u;
  float d = half_to_float(is_v ? LOAD_U16(vc, blk) : LOAD_U16(kc, blk));
  uint byte_ = is_v ? LOAD_U8(vc, blk + 2u + (j & 15u)) : LOAD_U8(kc, blk + 2u + (j & 15u));
  int level = int(j < 16u ? (byte_ & 15u) : (byte_ >> 4)) - 8;
  return float(level) * d;
}

// Bytes taken by n elements of a cache type.
uint row_bytes_of(uint type, uint n) {
  if (type == 0u) return 4u * n;
  if (type <= 2u) return 2u * n;
  return (n / 32u) * (type == 3u ? 34u : 18u);
}

float key_score(uint k_row) {
  uint hd = p.head_dim;
  if (p.k_type <= 2u) {
    float s = 0.0;
    for (uint i = 0u; i < hd; ++i) {
      precise float product = load_element(p.k_type, k_row, i, false) * q_values[i];
      s += product;
    }
    return s;
  }
  float s = 0.0;
  for (uint b = 0u; b < hd / 32u; ++b) {
    uint blk = k_row + b * (p.k_type == 3u ? 34u : 18u);
    int isum = 0;
    for (uint j = 0u; j < 32u; ++j) {
      int level;
      if (p.k_type == 3u) {
        level = LOAD_I8(kc, blk + 2u + j);
      } else {
        uint byte_ = LOAD_U8(kc, blk + 2u + (j & 15u));
        level = int(j < 16u ? (byte_ & 15u) : (byte_ >> 4)) - 8;
      }
      isum += level * q_levels[32u * b + j];
    }
    precise float scales = half_to_float(LOAD_U16(kc, blk)) * q_scales[b];
    precise float contribution = float(isum) * scales;
    s += contribution;
  }
  return s;
}

void main() {
  uint item = group_index();
  if (item >= p.n_tokens * p.n_head) return;
  uint token = item / p.n_head, head = item % p.n_head;
  uint kv_head = head / (p.n_head / p.n_head_kv);
  uint t = gl_LocalInvocationID.x;
  uint hd = p.head_dim;
  uint q_base = p.q_off + token * p.q_stride + head * hd;

  // Q in K's dot-product type.
  if (p.k_type <= 2u) {
    for (uint i = t; i < hd; i += THREADS) {
      float v = uintBitsToFloat(q[q_base + i]);
      q_values[i] = p.k_type == 1u ? round_to_half(v) : p.k_type == 2u ? bf16_to_float(float_to_bf16(v)) : v;
    }
  } else if (t < hd / 32u) {
    float amax = 0.0;
    for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(uintBitsToFloat(q[q_base + 32u * t + j])));
    float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
    q_scales[t] = round_to_half(div_rn(amax, 127.0));
    for (uint j = 0u; j < 32u; ++j) {
      precise float scaled = uintBitsToFloat(q[q_base + 32u * t + j]) * id;
      q_levels[32u * t + j] = int(roundEven(scaled));
    }
  }
  barrier();

  int pos = positions[p.pos_off + token];
  int last = min(pos, int(p.n_kv) - 1);
  int first = p.window > 0u ? max(0, pos - int(p.window) + 1) : 0;
  uint k_head = row_bytes_of(p.k_type, kv_head * hd);
  uint v_head = row_bytes_of(p.v_type, kv_head * hd);
  uint block_mask = (1u << p.block_shift) - 1u;

  float m = -1.0 / 0.0, sum = 0.0;
  float acc[MAX_HEAD_DIM];
  for (uint i = 0u; i < hd; ++i) acc[i] = 0.0;
  for (int j = first + int(t); j <= last; j += int(THREADS)) {
    uint row = uint(j);
    if (p.table_stride != 0u)
      row = (uint(tables[p.tables_off + token * p.table_stride + (uint(j) >> p.block_shift)]) << p.block_shift) |
            (uint(j) & block_mask);
    precise float s = key_score(p.k_off + row * p.k_row_bytes + k_head) * p.scale;
    if (p.softcap != 0.0) s = p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
    float ms = 1.0, vs = 1.0;
    if (s > m) {
      ms = exp(m - s);
      m = s;
      for (uint i = 0u; i < hd; ++i) acc[i] *= ms;
    } else {
      vs = exp(s - m);
    }
    uint v_row = p.v_off + row * p.v_row_bytes + v_head;
    for (uint i = 0u; i < hd; ++i) {
      precise float weighted = vs * load_element(p.v_type, v_row, i, true);
      acc[i] += weighted;
    }
    sum = sum * ms + vs;
  }

  // Merge the threads' states: rescale each to the common maximum, then sum.
  merge[t][32] = m;
  barrier();
  float common_max = -1.0 / 0.0;
  for (uint i = 0u; i < THREADS; ++i) common_max = max(common_max, merge[i][32]);
  float factor = (m == -1.0 / 0.0) ? 0.0 : exp(m - common_max);
  barrier();
  merge[t][32] = sum * factor;
  barrier();
  float total = 0.0;
  for (uint i = 0u; i < THREADS; ++i) total += merge[i][32];
  float inv = total == 0.0 ? 0.0 : 1.0 / total;
  for (uint d0 = 0u; d0 < hd; d0 += 32u) {
    barrier();
    for (uint i = 0u; i < 32u && d0 + i < hd; ++i) merge[t][i] = acc[d0 + i] * factor;
    barrier();
    if (d0 + t < hd) {
      float value = 0.0;
      for (uint i = 0u; i < THREADS; ++i) value += merge[i][t];
      o[p.o_off + token * p.o_stride + head * hd + d0 + t] = floatBitsToUint(value * inv);
    }
  }
}

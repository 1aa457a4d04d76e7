#version 450
// Fused attention with an online softmax (flash): one workgroup per (query
// token, head). Each of the 32 threads takes every 32nd visible key and keeps
// its own running max, sum and output accumulator; the workgroup merges them
// at the end. K and V rows are read in their cache type (F32, F16, BF16,
// Q8_0, Q4_0) through the token's block table when paged. Q is first rounded
// to K's dot-product type (f16 / bf16, or Q8_0 levels for quantized K) as
// ggml does. Unfused (ggml's non-flash path, flags bit 1): three passes over
// the keys (max, sum, then the probabilities, rounded to f16 for an f16 V,
// weighting V). Sinks (gpt-oss) join either softmax as a key without value.
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
layout(binding = 6) readonly buffer LastVisible { int last_visible[]; };
layout(binding = 7) readonly buffer Sinks { uint sinks[]; };
#define FLAG_CAUSAL 1u
#define FLAG_UNFUSED 2u
#define FLAG_LAST_VISIBLE 4u
#define FLAG_SINKS 8u
#define FLAG_PAGED 16u
layout(push_constant) uniform Params {
  uint n_tokens, n_head, n_head_kv, head_dim;
  uint q_off, q_stride, o_off, o_stride;  // floats
  uint k_off, k_row_bytes, v_off, v_row_bytes;  // bytes
  uint k_type, v_type;                    // 0 f32, 1 f16, 2 bf16, 3 q8_0, 4 q4_0
  uint pos_off, tables_off, table_stride, block_shift;  // table_stride 0: not paged
  uint n_kv, window;
  float scale, softcap;
  uint flags, lv_off, sinks_off;
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

// KV row of key j for this token: through its block table when paged.
uint kv_row(uint token, int j, uint block_mask) {
  if ((p.flags & FLAG_PAGED) == 0u) return uint(j);
  return (uint(tables[p.tables_off + token * p.table_stride + (uint(j) >> p.block_shift)]) << p.block_shift) |
         (uint(j) & block_mask);
}

// The scaled (and capped) score of key j.
float score_at(uint token, int j, uint k_head, uint block_mask) {
  precise float s = key_score(p.k_off + kv_row(token, j, block_mask) * p.k_row_bytes + k_head) * p.scale;
  if (p.softcap != 0.0) s = p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
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
  int last = int(p.n_kv) - 1;
  if ((p.flags & FLAG_CAUSAL) != 0u)
    last = min((p.flags & FLAG_LAST_VISIBLE) != 0u ? last_visible[p.lv_off + token] : pos, last);
  int first = p.window > 0u ? max(0, pos - int(p.window) + 1) : 0;
  uint k_head = row_bytes_of(p.k_type, kv_head * hd);
  uint v_head = row_bytes_of(p.v_type, kv_head * hd);
  uint block_mask = (1u << p.block_shift) - 1u;
  bool has_sink = (p.flags & FLAG_SINKS) != 0u;
  float sink = has_sink ? uintBitsToFloat(sinks[p.sinks_off + head]) : -1.0 / 0.0;

  float m = -1.0 / 0.0, sum = 0.0;
  float acc[MAX_HEAD_DIM];
  for (uint i = 0u; i < hd; ++i) acc[i] = 0.0;
  if ((p.flags & FLAG_UNFUSED) != 0u) {
    // Pass 1: the maximum score (with the sink).
    for (int j = first + int(t); j <= last; j += int(THREADS)) m = max(m, score_at(token, j, k_head, block_mask));
    merge[t][32] = m;
    barrier();
    float max_score = sink;
    for (uint i = 0u; i < THREADS; ++i) max_score = max(max_score, merge[i][32]);
    barrier();
    // Pass 2: the sum of the exponentials, compensated (the host sums in
    // double: its 1/sum is what decides how probabilities round to f16).
    float sum_lo = 0.0;
    for (int j = first + int(t); j <= last; j += int(THREADS)) {
      float e;
      two_sum(sum, exp_rn(score_at(token, j, k_head, block_mask) - max_score), sum, e);
      sum_lo += e;
    }
    merge[t][32] = sum;
    merge[t][0] = sum_lo;
    barrier();
    float total = has_sink ? exp_rn(sink - max_score) : 0.0, total_lo = 0.0;
    for (uint i = 0u; i < THREADS; ++i) {
      float e;
      two_sum(total, merge[i][32], total, e);
      total_lo += e + merge[i][0];
    }
    two_sum(total, total_lo, total, total_lo);
    float inv_sum = total == 0.0 ? 0.0 : reciprocal_of_pair(total, total_lo);
    // Pass 3: V weighted by the probabilities (rounded to f16 for an f16 V,
    // as ggml's mul_mat). THREADS keys at a time, their probabilities into
    // shared memory; then each lane sums its output elements over them in
    // key order, one sequential sum per element as the host's.
    for (int j0 = first; j0 <= last; j0 += int(THREADS)) {
      int j = j0 + int(t);
      barrier();
      if (j <= last) {
        precise float prob = exp_rn(score_at(token, j, k_head, block_mask) - max_score) * inv_sum;
        if (p.v_type == 1u) prob = round_to_half(prob);
        merge[t][32] = prob;
        merge[t][0] = uintBitsToFloat(p.v_off + kv_row(token, j, block_mask) * p.v_row_bytes + v_head);
      }
      barrier();
      uint count = min(THREADS, uint(last - j0 + 1));
      for (uint k = 0u; k < count; ++k) {
        float prob = merge[k][32];
        if (prob == 0.0) continue;
        uint v_row = floatBitsToUint(merge[k][0]);
        for (uint i = t; i < hd; i += THREADS) {
          precise float weighted = prob * load_element(p.v_type, v_row, i, true);
          acc[i / THREADS] += weighted;
        }
      }
    }
    for (uint i = t; i < hd; i += THREADS)
      o[p.o_off + token * p.o_stride + head * hd + i] = floatBitsToUint(acc[i / THREADS]);
    return;
  }

  for (int j = first + int(t); j <= last; j += int(THREADS)) {
    precise float s = score_at(token, j, k_head, block_mask);
    float ms = 1.0, vs = 1.0;
    if (s > m) {
      ms = exp_rn(m - s);
      m = s;
      for (uint i = 0u; i < hd; ++i) acc[i] *= ms;
    } else {
      vs = exp_rn(s - m);
    }
    uint v_row = p.v_off + kv_row(token, j, block_mask) * p.v_row_bytes + v_head;
    for (uint i = 0u; i < hd; ++i) {
      precise float weighted = vs * load_element(p.v_type, v_row, i, true);
      acc[i] += weighted;
    }
    sum = sum * ms + vs;
  }

  // Merge the threads' states: rescale each to the common maximum (the sink
  // counts in it and in the sum), then sum.
  merge[t][32] = m;
  barrier();
  float common_max = sink;
  for (uint i = 0u; i < THREADS; ++i) common_max = max(common_max, merge[i][32]);
  float factor = (m == -1.0 / 0.0) ? 0.0 : exp_rn(m - common_max);
  barrier();
  merge[t][32] = sum * factor;
  barrier();
  float total = has_sink ? exp_rn(sink - common_max) : 0.0;
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

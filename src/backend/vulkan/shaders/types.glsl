// One weight type's decoding, chosen by a WTYPE_<type> define, reading from a
// buffer named W (32-bit words; blocks at byte offsets). Defines:
//   QK            elements per block (1 for float types)
//   BLOCK_BYTES   bytes per block
//   dequant(blk, j)  element j of the block at byte blk, as f32
// and for the integer-dot types (activations quantized to Q8_0 or Q8_1):
//   level(blk, j)    the integer level of element j (offset removed)
//   block_scale(blk) and, with HAS_MIN, block_min(blk)
// and for the 256-element super-block types (IS_K, activations Q8_K) the
// interface described at the K-quants below. The lattice (IQ1-IQ3) and
// ternary (TQ1_0, TQ2_0) types are in types_lattice.glsl; the lattice grids
// are read from a buffer at binding GRID_BINDING, which the including shader
// defines.

#if defined(WTYPE_F32)
#define QK 1u
#define BLOCK_BYTES 4u
#define IS_FLOAT 1
float dequant(uint blk, uint j) { return LOAD_F32(W, blk); }
#elif defined(WTYPE_F16)
#define QK 1u
#define BLOCK_BYTES 2u
#define IS_FLOAT 1
float dequant(uint blk, uint j) { return LOAD_F16(W, blk); }
float act_round(float x) { return round_to_half(x); }  // activations go to f16 first
#elif defined(WTYPE_BF16)
#define QK 1u
#define BLOCK_BYTES 2u
#define IS_FLOAT 1
float dequant(uint blk, uint j) { return bf16_to_float(LOAD_U16(W, blk)); }
float act_round(float x) { return bf16_to_float(float_to_bf16(x)); }
#elif defined(WTYPE_Q4_0)
#define QK 32u
#define BLOCK_BYTES 18u
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 2u + (j & 15u));
  return int(j < 16u ? (q & 15u) : (q >> 4)) - 8;
}
float block_scale(uint blk) { return LOAD_F16(W, blk); }
#elif defined(WTYPE_Q4_1)
#define QK 32u
#define BLOCK_BYTES 20u
#define HAS_MIN 1
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 4u + (j & 15u));
  return int(j < 16u ? (q & 15u) : (q >> 4));
}
float block_scale(uint blk) { return LOAD_F16(W, blk); }
float block_min(uint blk) { return LOAD_F16(W, blk + 2u); }
#elif defined(WTYPE_Q5_0)
#define QK 32u
#define BLOCK_BYTES 22u
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 6u + (j & 15u));
  uint qh = LOAD_U32_HALVES(W, blk + 2u);
  return int((j < 16u ? (q & 15u) : (q >> 4)) | (((qh >> j) & 1u) << 4)) - 16;
}
float block_scale(uint blk) { return LOAD_F16(W, blk); }
#elif defined(WTYPE_Q5_1)
#define QK 32u
#define BLOCK_BYTES 24u
#define HAS_MIN 1
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 8u + (j & 15u));
  uint qh = LOAD_U32_HALVES(W, blk + 4u);
  return int((j < 16u ? (q & 15u) : (q >> 4)) | (((qh >> j) & 1u) << 4));
}
float block_scale(uint blk) { return LOAD_F16(W, blk); }
float block_min(uint blk) { return LOAD_F16(W, blk + 2u); }
#elif defined(WTYPE_Q8_0)
#define QK 32u
#define BLOCK_BYTES 34u
int level(uint blk, uint j) { return LOAD_I8(W, blk + 2u + j); }
float block_scale(uint blk) { return LOAD_F16(W, blk); }
#elif defined(WTYPE_IQ4_NL)
#define QK 32u
#define BLOCK_BYTES 18u
const int kIq4nlValues[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 2u + (j & 15u));
  return kIq4nlValues[j < 16u ? (q & 15u) : (q >> 4)];
}
float block_scale(uint blk) { return LOAD_F16(W, blk); }
#elif defined(WTYPE_MXFP4)
// OCP microscaling FP4: 32 E2M1 codes (in half units) and an E8M0 exponent.
#define QK 32u
#define BLOCK_BYTES 17u
const int kMxfp4Values[16] = int[16](0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
int level(uint blk, uint j) {
  uint q = LOAD_U8(W, blk + 1u + (j & 15u));
  return kMxfp4Values[j < 16u ? (q & 15u) : (q >> 4)];
}
// 2^(e - 128), e < 2 as denormals (ggml_e8m0_to_fp32_half).
float block_scale(uint blk) {
  uint e = LOAD_U8(W, blk);
  return uintBitsToFloat(e < 2u ? (0x00200000u << e) : ((e - 1u) << 23));
}
#elif defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S) || defined(WTYPE_IQ3_XXS) || \
    defined(WTYPE_IQ3_S) || defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M) || defined(WTYPE_TQ1_0) ||      \
    defined(WTYPE_TQ2_0)
#define QK 256u
#define IS_K 1
#include "types_lattice.glsl"
#elif defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K) || defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || \
    defined(WTYPE_Q6_K) || defined(WTYPE_IQ4_XS)
// 256-element super-blocks; activations are Q8_K. For the dot product:
//   klevel(blk, l)      the integer level of element l (as ref/k_quants.cpp)
//   group_scale(blk, g) the integer scale of 16-element group g
//   group_min(blk, g)   (KMIN types) the integer min of group g
//   combine(blk, d_act, dot, min_sum)  the super-block's float contribution
#define QK 256u
#define IS_K 1
uint two_bit_level(uint qs, uint l) {
  uint half_ = l / 128u, within = l % 128u;
  return (LOAD_U8(W, qs + 32u * half_ + within % 32u) >> (2u * (within / 32u))) & 3u;
}
uint four_bit_level(uint qs, uint l) {
  uint chunk = l / 64u, within = l % 64u;
  uint byte_ = LOAD_U8(W, qs + 32u * chunk + within % 32u);
  return within < 32u ? (byte_ & 15u) : (byte_ >> 4);
}
// Q4_K / Q5_K: the 6-bit scale (want_min false) or min of sub-block j (0..7).
uint k4_scale_min(uint packed, uint j, bool want_min) {
  if (j < 4u) return LOAD_U8(W, packed + j + (want_min ? 4u : 0u)) & 63u;
  uint hi_src = LOAD_U8(W, packed + (want_min ? j : j - 4u)) >> 6;
  uint low = want_min ? (LOAD_U8(W, packed + j + 4u) >> 4) : (LOAD_U8(W, packed + j + 4u) & 15u);
  return low | (hi_src << 4);
}
#if defined(WTYPE_Q2_K)
#define BLOCK_BYTES 84u
#define KMIN 1
int klevel(uint blk, uint l) { return int(two_bit_level(blk + 16u, l)); }
int group_scale(uint blk, uint g) { return int(LOAD_U8(W, blk + g) & 15u); }
int group_min(uint blk, uint g) { return int(LOAD_U8(W, blk + g) >> 4); }
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float d = d_act * LOAD_F16(W, blk + 80u);
  precise float dmin = d_act * LOAD_F16(W, blk + 82u);
  precise float r = d * float(dot) - dmin * float(min_sum);
  return r;
}
float dequant(uint blk, uint l) {
  uint sc = LOAD_U8(W, blk + l / 16u);
  precise float dl = LOAD_F16(W, blk + 80u) * float(sc & 15u);
  precise float ml = LOAD_F16(W, blk + 82u) * float(sc >> 4);
  precise float r = dl * float(two_bit_level(blk + 16u, l)) - ml;
  return r;
}
#elif defined(WTYPE_Q3_K)
#define BLOCK_BYTES 110u
int klevel(uint blk, uint l) {
  bool high = ((LOAD_U8(W, blk + l % 32u) >> (l / 32u)) & 1u) != 0u;
  return int(two_bit_level(blk + 32u, l)) - (high ? 0 : 4);
}
int group_scale(uint blk, uint g) {
  uint packed = blk + 96u;
  uint low = g < 8u ? (LOAD_U8(W, packed + g) & 15u) : (LOAD_U8(W, packed + g - 8u) >> 4);
  uint high = (LOAD_U8(W, packed + 8u + g % 4u) >> (2u * (g / 4u))) & 3u;
  return int(low | (high << 4)) - 32;
}
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float r = LOAD_F16(W, blk + 108u) * d_act * float(dot);
  return r;
}
float dequant(uint blk, uint l) {
  precise float dl = LOAD_F16(W, blk + 108u) * float(group_scale(blk, l / 16u));
  precise float r = dl * float(klevel(blk, l));
  return r;
}
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
#if defined(WTYPE_Q4_K)
#define BLOCK_BYTES 144u
int klevel(uint blk, uint l) { return int(four_bit_level(blk + 16u, l)); }
#else
#define BLOCK_BYTES 176u
int klevel(uint blk, uint l) {
  uint high = (LOAD_U8(W, blk + 16u + l % 32u) >> (l / 32u)) & 1u;
  return int(four_bit_level(blk + 48u, l) + 16u * high);
}
#endif
#define KMIN 1
int group_scale(uint blk, uint g) { return int(k4_scale_min(blk + 4u, g / 2u, false)); }
int group_min(uint blk, uint g) { return int(k4_scale_min(blk + 4u, g / 2u, true)); }
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float d = d_act * LOAD_F16(W, blk);
  precise float dmin = d_act * LOAD_F16(W, blk + 2u);
  precise float r = d * float(dot) - dmin * float(min_sum);
  return r;
}
float dequant(uint blk, uint l) {
  precise float dj = LOAD_F16(W, blk) * float(k4_scale_min(blk + 4u, l / 32u, false));
  precise float mj = LOAD_F16(W, blk + 2u) * float(k4_scale_min(blk + 4u, l / 32u, true));
  precise float r = dj * float(klevel(blk, l)) - mj;
  return r;
}
#elif defined(WTYPE_Q6_K)
#define BLOCK_BYTES 210u
int klevel(uint blk, uint l) {
  uint half_ = l / 128u, within = l % 128u;
  uint quarter = within / 32u, lane = within % 32u;
  uint low_byte = LOAD_U8(W, blk + 64u * half_ + lane + 32u * (quarter & 1u));
  uint low = quarter < 2u ? (low_byte & 15u) : (low_byte >> 4);
  uint high = (LOAD_U8(W, blk + 128u + 32u * half_ + lane) >> (2u * quarter)) & 3u;
  return int(low | (high << 4)) - 32;
}
int group_scale(uint blk, uint g) { return LOAD_I8(W, blk + 192u + g); }
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float r = LOAD_F16(W, blk + 208u) * d_act * float(dot);
  return r;
}
float dequant(uint blk, uint l) {
  precise float r = LOAD_F16(W, blk + 208u) * float(group_scale(blk, l / 16u)) * float(klevel(blk, l));
  return r;
}
#else  // IQ4_XS
#define BLOCK_BYTES 136u
const int kIq4nlValues[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
int klevel(uint blk, uint l) {
  uint ib = l / 32u, j = l % 32u;
  uint q = LOAD_U8(W, blk + 8u + 16u * ib + (j & 15u));
  return kIq4nlValues[j < 16u ? (q & 15u) : (q >> 4)];
}
int group_scale(uint blk, uint g) {
  uint ib = g / 2u;
  uint low = (LOAD_U8(W, blk + 4u + ib / 2u) >> (4u * (ib % 2u))) & 15u;
  uint high = (LOAD_U16(W, blk + 2u) >> (2u * ib)) & 3u;
  return int(low | (high << 4)) - 32;
}
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float r = LOAD_F16(W, blk) * d_act * float(dot);
  return r;
}
float dequant(uint blk, uint l) {
  precise float dl = LOAD_F16(W, blk) * float(group_scale(blk, (l / 32u) * 2u));
  precise float r = dl * float(klevel(blk, l));
  return r;
}
#endif
#else
#error "no WTYPE_<type> defined"
#endif

#if !defined(IS_FLOAT) && !defined(IS_K)
#if defined(HAS_MIN)
#define ACT_Q8_1 1
float dequant(uint blk, uint j) {
  precise float v = float(level(blk, j)) * block_scale(blk) + block_min(blk);
  return v;
}
#else
float dequant(uint blk, uint j) {
  precise float v = float(level(blk, j)) * block_scale(blk);
  return v;
}
#endif
#endif

#if defined(IS_K)
int level_of(uint blk, uint l) { return klevel(blk, l); }
#elif !defined(IS_FLOAT)
int level_of(uint blk, uint l) { return level(blk, l); }
#endif

// Quantized activations in the backend's scratch (not ggml's byte layout,
// the same numbers): per 32-element block 8 words of int8 levels, then the
// scale and, for Q8_1, d * sum(levels), each already rounded to f16.
#define ACT_BLOCK_WORDS 10u
// Q8_K (for the 256-element types): 64 words of levels, the f32 scale, then
// the 16 sums of 16 levels each.
#define ACT_K_WORDS 81u

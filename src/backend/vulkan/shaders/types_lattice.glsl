// The 256-element super-block types beyond the K-quants, with Q8_K
// activations (included by types.glsl, which defines QK and IS_K): the
// lattice types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M and the
// ternary TQ1_0, TQ2_0. Each gives the IS_K interface (klevel, group_scale,
// combine, dequant; see types.glsl), decoding element l of a super-block
// directly (ref/iq_unpack.h unpacks a whole block the same way). Element l
// of a lattice block is in 32-element group l >> 5, 8-element chunk l >> 3
// (one grid entry, or two for IQ3) at position l & 7.
//
// The dot product of a super-block is d * d_act * sum_g scale_g * (levels .
// activations), times a power of two per type (ref/iq_lattice_quants.cpp
// scales the whole row's sum by it; scaling each term by it instead gives
// the same bits). IQ1_S/IQ1_M add 1/8 of a second integer sum for their
// +-1/8 offsets: group_min (IQ1_S, per 16 elements, with the activations'
// 16-sums) or delta8 (IQ1_M, per 8 elements).

#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S) || defined(WTYPE_IQ3_XXS) || \
    defined(WTYPE_IQ3_S) || defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
// The grids, one after another as 32-bit words (VulkanBackend::grid_buffer
// writes them in this order from ref/iq_grids.h): 8-byte entries are two
// words, 4-byte entries (IQ3) one.
#define GRID_IQ2XXS 0u     // 256 entries of 8 bytes
#define GRID_IQ2XS 512u    // 512 of 8
#define GRID_IQ2S 1536u    // 1024 of 8
#define GRID_IQ3XXS 3584u  // 256 of 4
#define GRID_IQ3S 3840u    // 512 of 4
#define GRID_IQ1S 4352u    // 2048 of 8 (int8 -1, 0, 1)
layout(binding = GRID_BINDING) readonly buffer Grids { uint grid[]; };
uint grid8(uint base, uint index, uint j) { return (grid[base + 2u * index + (j >> 2)] >> (8u * (j & 3u))) & 255u; }
uint grid4(uint base, uint index, uint j) { return (grid[base + index] >> (8u * j)) & 255u; }
// Bit j of ggml's ksigns_iq2xs entry for 7 stored sign bits s: the eighth
// bit makes the count of negative signs even.
bool sign7(uint s, uint j) { return j < 7u ? ((s >> j) & 1u) != 0u : (bitCount(s) & 1) != 0; }
int with_sign(uint value, bool negative) { return negative ? -int(value) : int(value); }
#endif

#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S) || defined(WTYPE_IQ3_XXS) || \
    defined(WTYPE_IQ3_S)
// IQ2 / IQ3: signed grid levels and an odd 4-bit scale 2s+1 per 16 (or 32).
//   level_scale(blk, l)  the float scale of element l as ggml's dequantizer
//                        forms it (d * (0.5 + s) * factor, or d * (2s + 1))
#if defined(WTYPE_IQ2_XXS)
#define BLOCK_BYTES 66u
#define LATTICE_FACTOR 0.125
// Per 32: 4 grid bytes, then a word of 4 x 7 sign bits and the 4-bit scale.
int klevel(uint blk, uint l) {
  uint q = blk + 2u + 8u * (l >> 5), k = (l >> 3) & 3u;
  uint signs = (LOAD_U32_HALVES(W, q + 4u) >> (7u * k)) & 127u;
  return with_sign(grid8(GRID_IQ2XXS, LOAD_U8(W, q + k), l & 7u), sign7(signs, l & 7u));
}
uint scale_nibble(uint blk, uint g) { return LOAD_U8(W, blk + 2u + 8u * (g >> 1) + 7u) >> 4; }
#elif defined(WTYPE_IQ2_XS)
#define BLOCK_BYTES 74u
#define LATTICE_FACTOR 0.125
// Per 8: a 16-bit 9-bit grid index | 7 sign bits << 9; two scales per 32.
int klevel(uint blk, uint l) {
  uint q = LOAD_U16(W, blk + 2u + 2u * (l >> 3));
  return with_sign(grid8(GRID_IQ2XS, q & 511u, l & 7u), sign7(q >> 9, l & 7u));
}
uint scale_nibble(uint blk, uint g) { return (LOAD_U8(W, blk + 66u + (g >> 1)) >> (4u * (g & 1u))) & 15u; }
#elif defined(WTYPE_IQ2_S)
#define BLOCK_BYTES 82u
#define LATTICE_FACTOR 0.125
// Per 8: the index's low byte, 2 high bits in qh, a full sign byte.
int klevel(uint blk, uint l) {
  uint c = l >> 3;
  uint index = LOAD_U8(W, blk + 2u + c) | (((LOAD_U8(W, blk + 66u + (l >> 5)) >> (2u * (c & 3u))) & 3u) << 8);
  bool negative = ((LOAD_U8(W, blk + 34u + c) >> (l & 7u)) & 1u) != 0u;
  return with_sign(grid8(GRID_IQ2S, index, l & 7u), negative);
}
uint scale_nibble(uint blk, uint g) { return (LOAD_U8(W, blk + 74u + (g >> 1)) >> (4u * (g & 1u))) & 15u; }
#elif defined(WTYPE_IQ3_XXS)
#define BLOCK_BYTES 98u
#define LATTICE_FACTOR 0.25
// Per 8: two grid bytes (4 levels each); per 32 a word of 4 x 7 sign bits
// and the 4-bit scale after the 64 grid bytes.
int klevel(uint blk, uint l) {
  uint c = l >> 3, j = l & 7u;
  uint index = LOAD_U8(W, blk + 2u + 2u * c + (j >> 2));
  uint signs = (LOAD_U32_HALVES(W, blk + 66u + 4u * (l >> 5)) >> (7u * (c & 3u))) & 127u;
  return with_sign(grid4(GRID_IQ3XXS, index, j & 3u), sign7(signs, j));
}
uint scale_nibble(uint blk, uint g) { return LOAD_U8(W, blk + 66u + 4u * (g >> 1) + 3u) >> 4; }
#else  // IQ3_S
#define BLOCK_BYTES 110u
#define LATTICE_FACTOR 1.0
// Per 8: two grid bytes whose ninth bits are in qh, a full sign byte; one
// scale nibble per 32.
int klevel(uint blk, uint l) {
  uint c = l >> 3, j = l & 7u, h = j >> 2;
  uint index = LOAD_U8(W, blk + 2u + 2u * c + h) | (((LOAD_U8(W, blk + 66u + (l >> 5)) >> (2u * (c & 3u) + h)) & 1u) << 8);
  bool negative = ((LOAD_U8(W, blk + 74u + c) >> j) & 1u) != 0u;
  return with_sign(grid4(GRID_IQ3S, index, j & 3u), negative);
}
uint scale_nibble(uint blk, uint g) { return (LOAD_U8(W, blk + 106u + (g >> 2)) >> (4u * ((g >> 1) & 1u))) & 15u; }
#endif
int group_scale(uint blk, uint g) { return int(2u * scale_nibble(blk, g) + 1u); }
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float r = LOAD_F16(W, blk) * d_act * float(dot);
  precise float scaled = r * LATTICE_FACTOR;
  return scaled;
}
float dequant(uint blk, uint l) {
  float s = float(scale_nibble(blk, l >> 4));
#if defined(WTYPE_IQ3_S)
  precise float db = LOAD_F16(W, blk) * (1.0 + 2.0 * s);
#else
  // ggml: d * (0.5 + s) * 0.25 (IQ2) or * 0.5 (IQ3_XXS): twice the factor.
  precise float db = LOAD_F16(W, blk) * (0.5 + s) * (2.0 * LATTICE_FACTOR);
#endif
  // The sign applied last in ggml: round-to-nearest is symmetric, so the
  // signed level gives the same bits.
  precise float r = db * float(klevel(blk, l));
  return r;
}

#elif defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
// IQ1: grid levels -1, 0, 1 plus an offset of +-1/8, an odd 3-bit scale.
int grid_level(uint index, uint j) { return int(grid8(GRID_IQ1S, index, j) << 24) >> 24; }
#if defined(WTYPE_IQ1_S)
#define BLOCK_BYTES 50u
#define KMIN 1
// Per 32: a 16-bit word of 4 x 3 high index bits, the scale, the offset's sign.
uint iq1s_qh(uint blk, uint ib) { return LOAD_U16(W, blk + 34u + 2u * ib); }
int klevel(uint blk, uint l) {
  uint ib = l >> 5, k = (l >> 3) & 3u;
  uint index = LOAD_U8(W, blk + 2u + (l >> 3)) | (((iq1s_qh(blk, ib) >> (3u * k)) & 7u) << 8);
  return grid_level(index, l & 7u);
}
int group_scale(uint blk, uint g) { return int(2u * ((iq1s_qh(blk, g >> 1) >> 12) & 7u) + 1u); }
// The offset's integer weight per 16: its sum is this times the activations' 16-sum.
int group_min(uint blk, uint g) { return (iq1s_qh(blk, g >> 1) & 0x8000u) != 0u ? -group_scale(blk, g) : group_scale(blk, g); }
float super_scale(uint blk) { return LOAD_F16(W, blk); }
float element_offset(uint blk, uint l) { return (iq1s_qh(blk, l >> 5) & 0x8000u) != 0u ? -0.125 : 0.125; }
#else  // IQ1_M
#define BLOCK_BYTES 56u
#define DELTA8 1
// Per 8 elements a nibble of qh (3 high index bits, the offset's sign); four
// 16-bit scale words of 4 x 3-bit scales, their top nibbles the f16 d.
uint iq1m_nibble(uint blk, uint c) { return (LOAD_U8(W, blk + 32u + (c >> 1)) >> (4u * (c & 1u))) & 15u; }
uint iq1m_scales(uint blk, uint i) { return LOAD_U16(W, blk + 48u + 2u * i); }
int klevel(uint blk, uint l) {
  uint c = l >> 3;
  return grid_level(LOAD_U8(W, blk + c) | ((iq1m_nibble(blk, c) & 7u) << 8), l & 7u);
}
int group_scale(uint blk, uint g) {
  uint ib = g >> 1;
  return int(2u * ((iq1m_scales(blk, ib >> 1) >> (6u * (ib & 1u) + 3u * (g & 1u))) & 7u) + 1u);
}
// The offset's integer weight for 8-element chunk c (times its activations' sum).
int delta8(uint blk, uint c) { return (iq1m_nibble(blk, c) & 8u) != 0u ? -group_scale(blk, c >> 1) : group_scale(blk, c >> 1); }
float super_scale(uint blk) {
  uint h = (iq1m_scales(blk, 0u) >> 12) | ((iq1m_scales(blk, 1u) >> 8) & 0xf0u) |
           ((iq1m_scales(blk, 2u) >> 4) & 0xf00u) | (iq1m_scales(blk, 3u) & 0xf000u);
  return half_to_float(h);
}
float element_offset(uint blk, uint l) { return (iq1m_nibble(blk, l >> 3) & 8u) != 0u ? -0.125 : 0.125; }
#endif
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float d = super_scale(blk) * d_act;
  precise float r = d * (float(dot) + 0.125 * float(min_sum));
  return r;
}
float dequant(uint blk, uint l) {
  precise float dl = super_scale(blk) * float(group_scale(blk, l >> 4));
  precise float r = dl * (float(klevel(blk, l)) + element_offset(blk, l));
  return r;
}

#else  // TQ1_0, TQ2_0
// Ternary: levels -1, 0, 1 and one f16 scale; no group scales (all 1).
#if defined(WTYPE_TQ1_0)
#define BLOCK_BYTES 54u
#define TQ_SCALE 52u
const uint kPow3[5] = uint[5](1u, 3u, 9u, 27u, 81u);
// 5 trits per byte as ceil(value * 256 / 243): trit n is the top base-3
// digit of byte * 3^n. Elements 0..160 are trit l / 32 of byte l % 32,
// 160..240 trit of bytes 32..48 (16 per row), 240..256 of the 4 qh bytes.
int klevel(uint blk, uint l) {
  uint byte_, n;
  if (l < 160u) {
    byte_ = LOAD_U8(W, blk + (l & 31u));
    n = l >> 5;
  } else if (l < 240u) {
    byte_ = LOAD_U8(W, blk + 32u + ((l - 160u) & 15u));
    n = (l - 160u) >> 4;
  } else {
    byte_ = LOAD_U8(W, blk + 48u + ((l - 240u) & 3u));
    n = (l - 240u) >> 2;
  }
  uint shifted = (byte_ * kPow3[n]) & 255u;
  return int((shifted * 3u) >> 8) - 1;
}
#else
#define BLOCK_BYTES 66u
#define TQ_SCALE 64u
// 2 bits per element (0, 1, 2 = -1, 0, 1): four 32-element rows per 32 bytes.
int klevel(uint blk, uint l) {
  uint within = l & 127u;
  return int((LOAD_U8(W, blk + 32u * (l >> 7) + (within & 31u)) >> (2u * (within >> 5))) & 3u) - 1;
}
#endif
int group_scale(uint blk, uint g) { return 1; }
float combine(uint blk, float d_act, int dot, int min_sum) {
  precise float d = LOAD_F16(W, blk + TQ_SCALE) * d_act;
  precise float r = float(dot) * d;
  return r;
}
float dequant(uint blk, uint l) {
  precise float r = float(klevel(blk, l)) * LOAD_F16(W, blk + TQ_SCALE);
  return r;
}
#endif

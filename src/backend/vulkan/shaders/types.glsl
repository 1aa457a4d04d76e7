// One weight type's decoding, chosen by a WTYPE_<type> define, reading from a
// buffer named W (32-bit words; blocks at byte offsets). Defines:
//   QK            elements per block (1 for float types)
//   BLOCK_BYTES   bytes per block
//   dequant(blk, j)  element j of the block at byte blk, as f32
// and for the integer-dot types (activations quantized to Q8_0 or Q8_1):
//   level(blk, j)    the integer level of element j (offset removed)
//   block_scale(blk) and, with HAS_MIN, block_min(blk)

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
#else
#error "no WTYPE_<type> defined"
#endif

#if !defined(IS_FLOAT)
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

// Quantized activations in the backend's scratch (not ggml's byte layout,
// the same numbers): per 32-element block 8 words of int8 levels, then the
// scale and, for Q8_1, d * sum(levels), each already rounded to f16.
#define ACT_BLOCK_WORDS 10u

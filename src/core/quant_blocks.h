// ggml's quantization block layouts, byte for byte (GGUF tensors are arrays of
// these). Scales are stored as raw f16 bits (see core/fp16.h); every struct
// is checked against the dtype table's type_size.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace hearth {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK4_NL = 32;
inline constexpr int kQK_K = 256;     // k-quant super-block
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales+mins of Q4_K / Q5_K

struct block_q4_0 {
  uint16_t d;                 // f16 scale
  uint8_t qs[kQK4_0 / 2];     // element j in the low nibble of qs[j], j+16 in the high one
};
struct block_q4_1 {
  uint16_t d, m;              // f16 scale and minimum
  uint8_t qs[kQK4_1 / 2];
};
struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];              // fifth bit of each element
  uint8_t qs[kQK5_0 / 2];
};
struct block_q5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
struct block_q8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
struct block_q8_1 {
  uint16_t d;                 // f16 scale
  uint16_t s;                 // f16 of d * sum(qs)
  int8_t qs[kQK8_1];
};

struct block_q2_K {
  uint8_t scales[kQK_K / 16];  // low nibble scale, high nibble min, per 16 elements
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
struct block_q3_K {
  uint8_t hmask[kQK_K / 8];    // high bit
  uint8_t qs[kQK_K / 4];       // low 2 bits
  uint8_t scales[12];          // 16 x 6-bit scales
  uint16_t d;
};
struct block_q4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];  // 8 x (6-bit scale, 6-bit min)
  uint8_t qs[kQK_K / 2];
};
struct block_q5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct block_q6_K {
  uint8_t ql[kQK_K / 2];       // low 4 bits
  uint8_t qh[kQK_K / 4];       // high 2 bits
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
struct block_q8_K {
  float d;                     // f32, not f16
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];   // sum of each 16 quants
};

struct block_iq4_nl {
  uint16_t d;
  uint8_t qs[kQK4_NL / 2];
};
struct block_iq4_xs {
  uint16_t d;
  uint16_t scales_h;           // high 2 bits of 8 x 6-bit scales
  uint8_t scales_l[kQK_K / 64];  // low 4 bits
  uint8_t qs[kQK_K / 2];
};

// ---- 2- and 3-bit lattice types (grids in backend/ref/iq_grids.h)
struct block_iq2_xxs {
  uint16_t d;
  uint16_t qs[kQK_K / 8];      // per 32: 4 grid bytes, then 4 x 7 sign bits + 4-bit scale
};
struct block_iq2_xs {
  uint16_t d;
  uint16_t qs[kQK_K / 8];      // 9-bit grid index | 7 sign bits << 9
  uint8_t scales[kQK_K / 32];  // two 4-bit scales per 32
};
struct block_iq2_s {
  uint16_t d;
  uint8_t qs[kQK_K / 4];       // low 8 bits of the grid indices, then the sign bytes
  uint8_t qh[kQK_K / 32];      // high 2 bits of each index
  uint8_t scales[kQK_K / 32];
};
struct block_iq3_xxs {
  uint16_t d;
  uint8_t qs[3 * kQK_K / 8];   // 64 grid bytes, then per 32: 4 x 7 sign bits + 4-bit scale
};
struct block_iq3_s {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];      // ninth bit of each grid index
  uint8_t signs[kQK_K / 8];
  uint8_t scales[kQK_K / 64];
};
// ---- 1-bit lattice types
struct block_iq1_s {
  uint16_t d;
  uint8_t qs[kQK_K / 8];       // low 8 bits of the grid indices
  uint16_t qh[kQK_K / 32];     // 4 x 3 high index bits, 3-bit scale, delta sign
};
struct block_iq1_m {
  uint8_t qs[kQK_K / 8];
  uint8_t qh[kQK_K / 16];      // 3 high index bits + delta sign, per 8 elements
  uint8_t scales[kQK_K / 32];  // 3-bit scales; the top nibble of each u16 holds a quarter of the f16 d
};
// ---- ternary (BitNet b1.58)
struct block_tq1_0 {
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];  // 5 trits per byte (base 3, scaled to 0..255)
  uint8_t qh[kQK_K / 64];                    // 4 trits per byte
  uint16_t d;
};
struct block_tq2_0 {
  uint8_t qs[kQK_K / 4];       // 2 bits per element (0, 1, 2 = -1, 0, +1)
  uint16_t d;
};
// ---- OCP microscaling FP4
inline constexpr int kQK_MXFP4 = 32;
struct block_mxfp4 {
  uint8_t e;                   // E8M0 shared exponent
  uint8_t qs[kQK_MXFP4 / 2];   // E2M1 codes, element j low nibble, j+16 high nibble
};

// E2M1 values doubled (so they are integers): the MXFP4 levels in half units.
inline constexpr int8_t kValuesMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// The 16 non-linear levels of IQ4_NL / IQ4_XS.
inline constexpr int8_t kValuesIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

namespace detail {
constexpr bool block_size_matches(DType type, uint32_t bytes) {
  // dtype_info is not constexpr; the table's sizes are restated here from ggml.
  switch (type) {
    case DType::Q4_0: return bytes == 18;
    case DType::Q4_1: return bytes == 20;
    case DType::Q5_0: return bytes == 22;
    case DType::Q5_1: return bytes == 24;
    case DType::Q8_0: return bytes == 34;
    case DType::Q8_1: return bytes == 36;
    case DType::Q2_K: return bytes == 84;
    case DType::Q3_K: return bytes == 110;
    case DType::Q4_K: return bytes == 144;
    case DType::Q5_K: return bytes == 176;
    case DType::Q6_K: return bytes == 210;
    case DType::Q8_K: return bytes == 292;
    case DType::IQ4_NL: return bytes == 18;
    case DType::IQ4_XS: return bytes == 136;
    case DType::IQ2_XXS: return bytes == 66;
    case DType::IQ2_XS: return bytes == 74;
    case DType::IQ2_S: return bytes == 82;
    case DType::IQ3_XXS: return bytes == 98;
    case DType::IQ3_S: return bytes == 110;
    case DType::IQ1_S: return bytes == 50;
    case DType::IQ1_M: return bytes == 56;
    case DType::TQ1_0: return bytes == 54;
    case DType::TQ2_0: return bytes == 66;
    case DType::MXFP4: return bytes == 17;
    default: return false;
  }
}
}  // namespace detail

static_assert(detail::block_size_matches(DType::Q4_0, sizeof(block_q4_0)));
static_assert(detail::block_size_matches(DType::Q4_1, sizeof(block_q4_1)));
static_assert(detail::block_size_matches(DType::Q5_0, sizeof(block_q5_0)));
static_assert(detail::block_size_matches(DType::Q5_1, sizeof(block_q5_1)));
static_assert(detail::block_size_matches(DType::Q8_0, sizeof(block_q8_0)));
static_assert(detail::block_size_matches(DType::Q8_1, sizeof(block_q8_1)));
static_assert(detail::block_size_matches(DType::Q2_K, sizeof(block_q2_K)));
static_assert(detail::block_size_matches(DType::Q3_K, sizeof(block_q3_K)));
static_assert(detail::block_size_matches(DType::Q4_K, sizeof(block_q4_K)));
static_assert(detail::block_size_matches(DType::Q5_K, sizeof(block_q5_K)));
static_assert(detail::block_size_matches(DType::Q6_K, sizeof(block_q6_K)));
static_assert(detail::block_size_matches(DType::Q8_K, sizeof(block_q8_K)));
static_assert(detail::block_size_matches(DType::IQ4_NL, sizeof(block_iq4_nl)));
static_assert(detail::block_size_matches(DType::IQ4_XS, sizeof(block_iq4_xs)));
static_assert(detail::block_size_matches(DType::IQ2_XXS, sizeof(block_iq2_xxs)));
static_assert(detail::block_size_matches(DType::IQ2_XS, sizeof(block_iq2_xs)));
static_assert(detail::block_size_matches(DType::IQ2_S, sizeof(block_iq2_s)));
static_assert(detail::block_size_matches(DType::IQ3_XXS, sizeof(block_iq3_xxs)));
static_assert(detail::block_size_matches(DType::IQ3_S, sizeof(block_iq3_s)));
static_assert(detail::block_size_matches(DType::IQ1_S, sizeof(block_iq1_s)));
static_assert(detail::block_size_matches(DType::IQ1_M, sizeof(block_iq1_m)));
static_assert(detail::block_size_matches(DType::TQ1_0, sizeof(block_tq1_0)));
static_assert(detail::block_size_matches(DType::TQ2_0, sizeof(block_tq2_0)));
static_assert(detail::block_size_matches(DType::MXFP4, sizeof(block_mxfp4)));

}  // namespace hearth

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

}  // namespace hearth

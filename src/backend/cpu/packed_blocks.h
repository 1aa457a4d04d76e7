// Weights repacked eight rows at a time ("x8" groups), the layout of the
// packed matmul kernels (x86_packed_kernels.inc). In a group, block b of the
// eight rows is stored together, interleaved in 4-byte chunks, so that one
// 256-bit register holds the same four elements of all eight rows: an int8
// multiply of that register with four broadcast activation bytes leaves each
// row's partial sum in its own lane. The results of eight rows then come out
// as one vector, with no horizontal sums and one float multiply-add for all.
//
// The values are the file's, only moved, so the arithmetic is the one the
// unpacked kernels do (integer sums within a block are exact).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/quant_blocks.h"

namespace hearth::cpu {

inline constexpr int kPackRows = 8;

// Q4_0: qs[32 * i + 4 * r + e] = byte 4i + e of row r's block (low nibble:
// element 4i + e, high nibble: element 16 + 4i + e).
struct block_q4_0x8 {
  uint16_t d[kPackRows];
  uint8_t qs[kPackRows * kQK4_0 / 2];
};
static_assert(sizeof(block_q4_0x8) == kPackRows * sizeof(block_q4_0));

// Q8_0: qs[32 * c + 4 * r + e] = element 4c + e of row r's block.
struct block_q8_0x8 {
  uint16_t d[kPackRows];
  int8_t qs[kPackRows * kQK8_0];
};
static_assert(sizeof(block_q8_0x8) == kPackRows * sizeof(block_q8_0));

// Q4_K: qs interleaved in 4-byte chunks as Q4_0 (chunk c of row r at
// qs[32 * c + 4 * r]); the 6-bit scales and mins unpacked to bytes, by
// sub-block then row (scales[8 * s + r]), so eight rows' are one load.
struct block_q4_Kx8 {
  uint16_t d[kPackRows], dmin[kPackRows];
  uint8_t scales[8 * kPackRows], mins[8 * kPackRows];
  uint8_t qs[kPackRows * kQK_K / 2];
};

// Q5_K: as Q4_K, plus qh interleaved the same way (chunk c of row r's 32 qh
// bytes at qh[32 * c + 4 * r]).
struct block_q5_Kx8 {
  uint16_t d[kPackRows], dmin[kPackRows];
  uint8_t scales[8 * kPackRows], mins[8 * kPackRows];
  uint8_t qh[kPackRows * kQK_K / 8];
  uint8_t qs[kPackRows * kQK_K / 2];
};

// Q6_K: ql and qh interleaved in 4-byte chunks (ql chunk c of row r at
// ql[32 * c + 4 * r], qh likewise), scales by group then row.
struct block_q6_Kx8 {
  uint8_t ql[kPackRows * kQK_K / 2];
  uint8_t qh[kPackRows * kQK_K / 4];
  int8_t scales[16 * kPackRows];
  uint16_t d[kPackRows];
};
static_assert(sizeof(block_q6_Kx8) == kPackRows * sizeof(block_q6_K));

// MXFP4: qs as Q4_0's (byte 4i + e of row r at qs[32 * i + 4 * r + e]), the
// eight rows' E8M0 exponents together.
struct block_mxfp4x8 {
  uint8_t e[kPackRows];
  uint8_t qs[kPackRows * kQK_MXFP4 / 2];
};
static_assert(sizeof(block_mxfp4x8) == kPackRows * sizeof(block_mxfp4));

// Whether `type` has a packed layout.
bool has_packed_layout(DType type);
// Bytes of one packed group of 8 rows of n elements.
size_t packed_group_bytes(DType type, int64_t n);
// Packs rows [0, 8) of a matrix (rows row_stride bytes apart, n elements
// each) into one group of packed_group_bytes(type, n) at dst.
void pack_rows_x8(DType type, const void* rows, size_t row_stride, int64_t n, void* dst);

// Whether the packed kernels of `type` read act_sums (kernels.h): Q4_0 and
// MXFP4 always, Q8_0 in its pair kernel.
bool packed_reads_act_sums(DType type, bool pair_kernel);

// The act_sums of kernels.h for `rows` Q8_0 activation rows of `blocks`
// blocks each (row_bytes apart), into `out` (3 * blocks ints a row) for a
// Q4_0, MXFP4 or Q8_0 weight (zero points 8, 12 and 128).
void pack_act_sums(DType weight_type, const void* acts, size_t row_bytes, int64_t rows, int64_t blocks,
                   int32_t* out);

}  // namespace hearth::cpu

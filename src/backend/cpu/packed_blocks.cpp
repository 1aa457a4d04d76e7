#include "backend/cpu/packed_blocks.h"

#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "core/fp16.h"

namespace hearth::cpu {
namespace {

// Copies 4-byte chunk c of each of the 8 rows' `bytes`-byte array to
// dst[32 * c + 4 * r].
void interleave(const uint8_t* const* row_bytes, int bytes, uint8_t* dst) {
  for (int r = 0; r < kPackRows; ++r)
    for (int c = 0; c < bytes / 4; ++c) std::memcpy(dst + 32 * c + 4 * r, row_bytes[r] + 4 * c, 4);
}

template <typename Block>
const Block& block_of_row(const void* rows, size_t row_stride, int r, int64_t b) {
  return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(rows) + size_t(r) * row_stride)[b];
}

template <typename Block, typename Group>
void pack_k4(const void* rows, size_t row_stride, int64_t n, void* dst) {
  auto* groups = static_cast<Group*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Group& g = groups[b];
    const uint8_t* qs[kPackRows];
    const uint8_t* qh[kPackRows];
    for (int r = 0; r < kPackRows; ++r) {
      const auto& block = block_of_row<Block>(rows, row_stride, r, b);
      g.d[r] = block.d;
      g.dmin[r] = block.dmin;
      qs[r] = block.qs;
      if constexpr (std::is_same_v<Block, block_q5_K>) qh[r] = block.qh;
      const uint8_t* q = block.scales;  // ggml's get_scale_min_k4
      for (int s = 0; s < 8; ++s) {
        const uint8_t sc = s < 4 ? q[s] & 63 : uint8_t((q[s + 4] & 0xf) | ((q[s - 4] >> 6) << 4));
        const uint8_t m = s < 4 ? q[s + 4] & 63 : uint8_t((q[s + 4] >> 4) | ((q[s] >> 6) << 4));
        g.scales[8 * s + r] = sc;
        g.mins[8 * s + r] = m;
      }
    }
    interleave(qs, kQK_K / 2, g.qs);
    if constexpr (std::is_same_v<Block, block_q5_K>) interleave(qh, kQK_K / 8, g.qh);
  }
}

void pack_q6_K(const void* rows, size_t row_stride, int64_t n, void* dst) {
  auto* groups = static_cast<block_q6_Kx8*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    block_q6_Kx8& g = groups[b];
    const uint8_t *ql[kPackRows], *qh[kPackRows];
    for (int r = 0; r < kPackRows; ++r) {
      const auto& block = block_of_row<block_q6_K>(rows, row_stride, r, b);
      g.d[r] = block.d;
      ql[r] = block.ql;
      qh[r] = block.qh;
      for (int s = 0; s < 16; ++s) g.scales[8 * s + r] = block.scales[s];
    }
    interleave(ql, kQK_K / 2, g.ql);
    interleave(qh, kQK_K / 4, g.qh);
  }
}

template <typename Block, typename Group>
void interleave_chunks(const void* rows, size_t row_stride, int64_t n, void* dst) {
  auto* groups = static_cast<Group*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    Group& g = groups[b];
    const uint8_t* qs[kPackRows];
    for (int r = 0; r < kPackRows; ++r) {
      const auto& block = block_of_row<Block>(rows, row_stride, r, b);
      g.d[r] = block.d;
      qs[r] = reinterpret_cast<const uint8_t*>(block.qs);
    }
    interleave(qs, int(sizeof(Block::qs)), reinterpret_cast<uint8_t*>(g.qs));
  }
}

void pack_mxfp4(const void* rows, size_t row_stride, int64_t n, void* dst) {
  auto* groups = static_cast<block_mxfp4x8*>(dst);
  for (int64_t b = 0; b < n / kQK_MXFP4; ++b) {
    const uint8_t* qs[kPackRows];
    for (int r = 0; r < kPackRows; ++r) {
      const auto& block = block_of_row<block_mxfp4>(rows, row_stride, r, b);
      groups[b].e[r] = block.e;
      qs[r] = block.qs;
    }
    interleave(qs, kQK_MXFP4 / 2, groups[b].qs);
  }
}

}  // namespace

bool has_packed_layout(DType type) {
  return type == DType::Q4_0 || type == DType::Q8_0 || type == DType::Q4_K || type == DType::Q5_K ||
         type == DType::Q6_K || type == DType::MXFP4;
}

size_t packed_group_bytes(DType type, int64_t n) {
  if (type == DType::Q4_K) return size_t(n / kQK_K) * sizeof(block_q4_Kx8);
  if (type == DType::Q5_K) return size_t(n / kQK_K) * sizeof(block_q5_Kx8);
  return kPackRows * row_bytes(type, n);
}

void pack_rows_x8(DType type, const void* rows, size_t row_stride, int64_t n, void* dst) {
  switch (type) {
    case DType::Q4_0: return interleave_chunks<block_q4_0, block_q4_0x8>(rows, row_stride, n, dst);
    case DType::Q8_0: return interleave_chunks<block_q8_0, block_q8_0x8>(rows, row_stride, n, dst);
    case DType::Q4_K: return pack_k4<block_q4_K, block_q4_Kx8>(rows, row_stride, n, dst);
    case DType::Q5_K: return pack_k4<block_q5_K, block_q5_Kx8>(rows, row_stride, n, dst);
    case DType::Q6_K: return pack_q6_K(rows, row_stride, n, dst);
    case DType::MXFP4: return pack_mxfp4(rows, row_stride, n, dst);
    default: fail("internal: no packed layout for {}", dtype_name(type));
  }
}

bool packed_reads_act_sums(DType type, bool pair_kernel) {
  return type == DType::Q4_0 || type == DType::MXFP4 || (type == DType::Q8_0 && pair_kernel);
}

void pack_act_sums(DType weight_type, const void* acts, size_t row_bytes, int64_t rows, int64_t blocks,
                   int32_t* out) {
  // The offset that makes the weight's levels unsigned: Q4_0's nibbles,
  // MXFP4's doubled E2M1 values (-12..12), Q8_0's bytes.
  const int32_t zero_point = weight_type == DType::Q4_0 ? 8 : weight_type == DType::MXFP4 ? 12 : 128;
  for (int64_t r = 0; r < rows; ++r) {
    const auto* row = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(acts) + r * row_bytes);
    int32_t* sums = out + r * 3 * blocks;
    for (int64_t b = 0; b < blocks; ++b) {
      int32_t sum = 0;
      for (int8_t q : row[b].qs) sum += q;
      const float d = fp16_to_fp32(row[b].d);
      sums[b] = sum;
      std::memcpy(&sums[blocks + b], &d, sizeof(d));
      sums[2 * blocks + b] = -zero_point * sum;
    }
  }
}

}  // namespace hearth::cpu

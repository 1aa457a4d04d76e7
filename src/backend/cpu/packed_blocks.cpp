#include "backend/cpu/packed_blocks.h"

#include <cstring>

#include "core/error.h"

namespace hearth::cpu {
namespace {

template <typename Block, typename Group>
void interleave_chunks(const void* rows, size_t row_stride, int64_t n, void* dst) {
  constexpr int kChunks = int(sizeof(Block::qs)) / 4;
  const auto* base = static_cast<const uint8_t*>(rows);
  auto* groups = static_cast<Group*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    Group& g = groups[b];
    for (int r = 0; r < kPackRows; ++r) {
      const auto& block = reinterpret_cast<const Block*>(base + size_t(r) * row_stride)[b];
      g.d[r] = block.d;
      for (int c = 0; c < kChunks; ++c) std::memcpy(&g.qs[32 * c + 4 * r], &block.qs[4 * c], 4);
    }
  }
}

}  // namespace

bool has_packed_layout(DType type) { return type == DType::Q4_0 || type == DType::Q8_0; }

void pack_rows_x8(DType type, const void* rows, size_t row_stride, int64_t n, void* dst) {
  switch (type) {
    case DType::Q4_0: return interleave_chunks<block_q4_0, block_q4_0x8>(rows, row_stride, n, dst);
    case DType::Q8_0: return interleave_chunks<block_q8_0, block_q8_0x8>(rows, row_stride, n, dst);
    default: fail("internal: no packed layout for {}", dtype_name(type));
  }
}

}  // namespace hearth::cpu

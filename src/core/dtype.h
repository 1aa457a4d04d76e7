// The ggml tensor types by their on-disk ids, with the block layout of each:
// a row of n elements of a type takes n / block_size * type_size bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
  // 4 and 5 were Q4_2 and Q4_3, removed from ggml.
  Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20,
  IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  // 31..33 were the Q4_0_4_4/4_8/8_8 repacks, removed from ggml.
  TQ1_0 = 34, TQ2_0 = 35,
  // 36..38 were the IQ4_NL_4_4/4_8/8_8 repacks, removed from ggml.
  MXFP4 = 39,
};

inline constexpr uint32_t kDTypeIdLimit = 40;  // ids are < this

struct DTypeInfo {
  DType type;
  std::string_view name;  // ggml's spelling: "f32", "q4_K", "iq4_xs"
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
  bool quantized;
};

// The table entry for a type id, or nullopt for an id ggml never had or removed.
std::optional<DTypeInfo> dtype_info(uint32_t id);
// The entry for a known type (never fails for an enumerator).
const DTypeInfo& dtype_info(DType type);
std::string_view dtype_name(DType type);
// Looks a type up by ggml name, case-insensitively ("Q4_K", "q4_k", "bf16").
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes taken by a row of n elements; n must be a multiple of the block size.
inline uint64_t row_bytes(DType type, uint64_t n) {
  const DTypeInfo& info = dtype_info(type);
  return n / info.block_size * info.type_size;
}

}  // namespace hearth

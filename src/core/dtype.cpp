#include "core/dtype.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace hearth {
namespace {

constexpr uint32_t QK_K = 256;

// Block sizes and bytes per block, from ggml's block struct layouts.
constexpr std::array kTable = {
    DTypeInfo{DType::F32, "f32", 1, 4, false},
    DTypeInfo{DType::F16, "f16", 1, 2, false},
    DTypeInfo{DType::Q4_0, "q4_0", 32, 2 + 16, true},
    DTypeInfo{DType::Q4_1, "q4_1", 32, 2 + 2 + 16, true},
    DTypeInfo{DType::Q5_0, "q5_0", 32, 2 + 4 + 16, true},
    DTypeInfo{DType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, true},
    DTypeInfo{DType::Q8_0, "q8_0", 32, 2 + 32, true},
    DTypeInfo{DType::Q8_1, "q8_1", 32, 2 + 2 + 32, true},
    DTypeInfo{DType::Q2_K, "q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, true},
    DTypeInfo{DType::Q3_K, "q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, true},
    DTypeInfo{DType::Q4_K, "q4_K", QK_K, 2 + 2 + 12 + QK_K / 2, true},
    DTypeInfo{DType::Q5_K, "q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, true},
    DTypeInfo{DType::Q6_K, "q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, true},
    DTypeInfo{DType::Q8_K, "q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, true},
    DTypeInfo{DType::IQ2_XXS, "iq2_xxs", QK_K, 2 + QK_K / 8 * 2, true},
    DTypeInfo{DType::IQ2_XS, "iq2_xs", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32, true},
    DTypeInfo{DType::IQ3_XXS, "iq3_xxs", QK_K, 2 + 3 * QK_K / 8, true},
    DTypeInfo{DType::IQ1_S, "iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 32 * 2, true},
    DTypeInfo{DType::IQ4_NL, "iq4_nl", 32, 2 + 16, true},
    DTypeInfo{DType::IQ3_S, "iq3_s", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64, true},
    DTypeInfo{DType::IQ2_S, "iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 32, true},
    DTypeInfo{DType::IQ4_XS, "iq4_xs", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, true},
    DTypeInfo{DType::I8, "i8", 1, 1, false},
    DTypeInfo{DType::I16, "i16", 1, 2, false},
    DTypeInfo{DType::I32, "i32", 1, 4, false},
    DTypeInfo{DType::I64, "i64", 1, 8, false},
    DTypeInfo{DType::F64, "f64", 1, 8, false},
    DTypeInfo{DType::IQ1_M, "iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, true},
    DTypeInfo{DType::BF16, "bf16", 1, 2, false},
    DTypeInfo{DType::TQ1_0, "tq1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2, true},
    DTypeInfo{DType::TQ2_0, "tq2_0", QK_K, QK_K / 4 + 2, true},
    DTypeInfo{DType::MXFP4, "mxfp4", 32, 1 + 16, true},
};

constexpr std::array<int, kDTypeIdLimit> make_index() {
  std::array<int, kDTypeIdLimit> index{};
  for (auto& slot : index) slot = -1;
  for (size_t i = 0; i < kTable.size(); ++i) index[static_cast<uint32_t>(kTable[i].type)] = int(i);
  return index;
}
constexpr auto kIndex = make_index();

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  if (id >= kDTypeIdLimit || kIndex[id] < 0) return std::nullopt;
  return kTable[kIndex[id]];
}

const DTypeInfo& dtype_info(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  if (id >= kDTypeIdLimit || kIndex[id] < 0) fail("invalid tensor type id {}", id);
  return kTable[kIndex[id]];
}

std::string_view dtype_name(DType type) { return dtype_info(type).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kTable)
    if (iequals(info.name, name)) return info.type;
  return std::nullopt;
}

}  // namespace hearth

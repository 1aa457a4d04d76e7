// What `--fa auto` means, in one place for run, bench, logits and serve.
#pragma once

#include <string_view>

#include "core/dtype.h"

namespace hearth::runtime {

// "on" and "off" say it; "auto" turns the fused (flash) attention on when
// the V cache is quantized, which only the fused path can read. With an
// f16/f32 V cache "auto" keeps the unfused path, whose softmax rounding is
// the one llama.cpp's reference data was made with.
inline bool use_flash_attention(std::string_view option, DType type_v) {
  return option == "on" || (option == "auto" && dtype_info(type_v).quantized);
}

}  // namespace hearth::runtime

// llama.cpp's `general.file_type` values (llama_ftype): the mix a model was
// quantized to, e.g. 15 = Q4_K_M.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth {

// "Q4_K_M" for 15; "unknown (N)" for ids llama.cpp does not define.
std::string file_type_name(int64_t id);
std::optional<int64_t> file_type_from_name(std::string_view name);

}  // namespace hearth

// Reading a whole file into memory (templates, schemas, grammars, prompts).
#pragma once

#include <string>
#include <string_view>

namespace hearth {

// The file's bytes. Throws Error "cannot read '<path>'", or with `what`
// ("chat template file") "cannot read chat template file '<path>'".
std::string read_file(const std::string& path, std::string_view what = {});

}  // namespace hearth

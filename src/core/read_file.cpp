#include "core/read_file.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hearth {

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (what.empty()) fail("cannot read '{}'", path);
    fail("cannot read {} '{}'", what, path);
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace hearth

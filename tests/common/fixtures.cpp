#include "common/fixtures.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace hearth::test {

bool have_full_fixtures() { return fs::is_directory(HEARTH_FULL_FIXTURES); }

fs::path fixture(const std::string& relative) {
  const fs::path full = fs::path(HEARTH_FULL_FIXTURES) / relative;
  if (fs::exists(full)) return full;
  const fs::path compact = fs::path(HEARTH_COMPACT_FIXTURES) / relative;
  if (fs::exists(compact)) return compact;
  // The bundled model (models/stories260K.gguf) lives in the repo itself.
  const fs::path bundled = fs::path(HEARTH_SOURCE_DIR) / relative;
  if (fs::exists(bundled)) return bundled;
  return {};
}

std::vector<fs::path> fixture_files(const std::string& folder, const std::string& suffix) {
  fs::path dir = fs::path(HEARTH_FULL_FIXTURES) / folder;
  if (!fs::is_directory(dir)) dir = fs::path(HEARTH_COMPACT_FIXTURES) / folder;
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

fs::path source_dir() { return HEARTH_SOURCE_DIR; }
fs::path hearth_binary() { return HEARTH_BINARY; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::string out;
  std::array<char, 65536> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace hearth::test

// Finding reference data: the full set in ../shared/fixtures when it exists
// beside the checkout, else the compact copy kept in tests/data.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hearth::test {

// The full fixture folder, if present.
bool have_full_fixtures();
// Path of `relative` (e.g. "models/stories260K.gguf"): from the full set when
// it exists there, else from the compact copy, else from the repo itself (the
// bundled model). Empty when none has it.
std::filesystem::path fixture(const std::string& relative);
// Every file under `folder` whose name ends in `suffix`, from the full set
// when present, else from the compact copy, sorted.
std::vector<std::filesystem::path> fixture_files(const std::string& folder, const std::string& suffix);
// Files in both the full and compact sets (for tests that must run on both).
std::filesystem::path source_dir();
std::filesystem::path hearth_binary();
std::string read_text(const std::filesystem::path& path);

// Runs a shell command, returns its exit status and captured stdout.
struct CommandResult {
  int status;
  std::string out;
};
CommandResult run_command(const std::string& command);

}  // namespace hearth::test

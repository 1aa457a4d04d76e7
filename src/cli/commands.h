// Each subcommand lives in its own file and registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace hearth::cli {

// Thrown by a command to end the program with this exit status.
struct ExitStatus {
  int code;
};

void add_show_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_template_command(CLI::App& app);

}  // namespace hearth::cli

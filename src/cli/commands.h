// Each subcommand lives in its own file and registers itself on the app.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hearth::cli {

// Thrown by a command to end the program with this exit status.
struct ExitStatus {
  int code;
};

void add_show_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_imatrix_command(CLI::App& app);
void add_pull_command(CLI::App& app);
void add_list_command(CLI::App& app);
void add_rm_command(CLI::App& app);
void add_import_command(CLI::App& app);
void add_create_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_devices_command(CLI::App& app);
// The compute backends this binary was built with ("cpu, vulkan").
std::string built_in_backends();
void add_embed_command(CLI::App& app);

// A JSON array of token ids (or {"tokens": [...]}) from a file.
std::vector<int32_t> read_token_file(const std::string& path);
void add_template_command(CLI::App& app);

}  // namespace hearth::cli

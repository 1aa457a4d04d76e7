// hearth: run open-weight language models on your own machine.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"hearth: run open-weight language models privately on your own hardware", "hearth"};
  app.set_version_flag("--version", std::string("hearth ") + HEARTH_VERSION + " (backends: " + hearth::cli::built_in_backends() + ")");
  app.require_subcommand(1);
  hearth::cli::add_show_command(app);
  hearth::cli::add_quantize_command(app);
  hearth::cli::add_tokenize_command(app);
  hearth::cli::add_run_command(app);
  hearth::cli::add_logits_command(app);
  hearth::cli::add_synth_command(app);
  hearth::cli::add_bench_command(app);
  hearth::cli::add_serve_command(app);
  hearth::cli::add_template_command(app);
  hearth::cli::add_perplexity_command(app);
  hearth::cli::add_imatrix_command(app);
  hearth::cli::add_pull_command(app);
  hearth::cli::add_list_command(app);
  hearth::cli::add_rm_command(app);
  hearth::cli::add_import_command(app);
  hearth::cli::add_create_command(app);
  hearth::cli::add_plan_command(app);
  hearth::cli::add_devices_command(app);
  hearth::cli::add_embed_command(app);

  if (argc == 1) {
    fmt::print("{}", app.help());  // no command: show them all
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const hearth::cli::ExitStatus& status) {
    return status.code;
  } catch (const hearth::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}

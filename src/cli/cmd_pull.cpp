// `hearth pull REF [--name NAME]`: downloads a model from Hugging Face (or a
// mirror, HF_ENDPOINT) or ModelScope into the store.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"

namespace hearth::cli {

void add_pull_command(CLI::App& app) {
  struct Options {
    std::string ref, name;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "pull", "Download a model into the store: hf.co/OWNER/REPO:QUANT, hf.co/OWNER/REPO/FILE.gguf, ms:OWNER/REPO:QUANT");
  cmd->add_option("ref", o->ref, "What to pull")->required();
  cmd->add_option("--name", o->name, "Store it under this name (default: the reference)");
  cmd->callback([o] {
    const auto ref = store::parse_ref(o->ref);
    if (!ref) fail("'{}' is not a pull reference: use hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf or ms:OWNER/REPO[:QUANT]", o->ref);
    pull_with_progress(*ref, o->name);
  });
}

}  // namespace hearth::cli

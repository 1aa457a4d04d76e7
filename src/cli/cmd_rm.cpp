// `hearth rm NAME...`: removes models or presets from the store (an imported
// model's file stays where it was).
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"

namespace hearth::cli {

void add_rm_command(CLI::App& app) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("rm", "Remove models or presets from the store");
  cmd->add_option("names", *names, "Store names")->required();
  cmd->callback([names] {
    const store::Store st = open_store();
    for (const std::string& name : *names) {
      for (const auto& other : st.list())
        if (other.kind == "preset" && other.preset.model == name)
          fmt::print(stderr, "note: preset '{}' is based on '{}'\n", other.name, name);
      st.remove(name);
      fmt::print("removed {}\n", name);
    }
  });
}

}  // namespace hearth::cli

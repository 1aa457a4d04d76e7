// `hearth list [--json]`: the models and presets in the store.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_ref.h"

namespace hearth::cli {

void add_list_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("list", "List the models and presets in the store");
  cmd->alias("ls");
  cmd->add_flag("--json", *json, "Print a JSON array");
  cmd->callback([json] {
    const store::Store st = open_store();
    const auto entries = st.list();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& m : entries) {
        nlohmann::json files = nlohmann::json::array();
        for (const auto& f : m.files) files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
        nlohmann::json e = {{"name", m.name}, {"kind", m.kind}, {"source", m.source},
                            {"size", m.total_size()}, {"files", files}, {"created", m.created}};
        if (m.kind == "preset") e["model"] = m.preset.model;
        if (m.mmproj) e["mmproj"] = {{"path", m.mmproj->path}, {"sha256", m.mmproj->sha256}, {"size", m.mmproj->size}};
        out.push_back(e);
      }
      fmt::print("{}\n", out.dump(2));
      return;
    }
    if (entries.empty()) {
      fmt::print("the store ({}) is empty; add a model with `hearth pull hf.co/OWNER/REPO:QUANT`\n", st.home().string());
      return;
    }
    fmt::print("{:<56} {:<7} {:>11}  {}\n", "NAME", "KIND", "SIZE", "CREATED");
    for (const auto& m : entries)
      fmt::print("{:<56} {:<7} {:>11}  {}\n", m.name, m.kind,
                 m.kind == "preset" ? "-> " + m.preset.model : human_size(m.total_size()), m.created);
  });
}

}  // namespace hearth::cli

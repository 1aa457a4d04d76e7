// `hearth create NAME -f preset.toml`: a preset (base model, chat template,
// system prompt, sampling defaults, ctx, K/V types) stored under a name.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"

namespace hearth::cli {

void add_create_command(CLI::App& app) {
  struct Options {
    std::string name, file;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("create", "Store a preset: a base model with its template, system prompt and settings");
  cmd->add_option("name", o->name, "The preset's name")->required();
  cmd->add_option("-f,--file", o->file, "The preset file (TOML)")->required();
  cmd->callback([o] {
    const store::Store st = open_store();
    store::Manifest m;
    m.name = o->name;
    m.kind = "preset";
    m.preset = store::parse_preset(o->file);
    if (m.preset.model == o->name) fail("preset '{}' cannot be based on itself", o->name);
    // The base must be usable now: a store entry, a file, or a reference pulled later by run.
    std::error_code ec;
    if (!st.find(m.preset.model) && !std::filesystem::exists(m.preset.model, ec) && !store::parse_ref(m.preset.model))
      fail("{}: the base model '{}' is neither in the store ({}) nor a file nor a pull reference", o->file,
           m.preset.model, st.names());
    if (std::filesystem::exists(m.preset.model, ec)) m.preset.model = std::filesystem::absolute(m.preset.model).string();
    m.source = std::filesystem::absolute(o->file).string();
    m.owned = false;
    m.created = store::utc_now();
    st.save(m);
    fmt::print("created {} (based on {})\n", m.name, m.preset.model);
  });
}

}  // namespace hearth::cli

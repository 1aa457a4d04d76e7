// `hearth import FILE.gguf --name NAME`: adds a local GGUF file to the store
// by reference (the file stays where it is; `rm` does not delete it).
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::cli {

void add_import_command(CLI::App& app) {
  struct Options {
    std::string file, name;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("import", "Add a local GGUF file to the store under a name");
  cmd->add_option("file", o->file, "GGUF file (the first part of a split model)")->required();
  cmd->add_option("--name", o->name, "The name to use it by")->required();
  cmd->callback([o] {
    namespace fs = std::filesystem;
    const gguf::File file = gguf::File::open(o->file);  // refuses what is not a GGUF model
    store::Manifest m;
    m.name = o->name;
    m.source = "import:" + fs::absolute(o->file).string();
    m.owned = false;
    std::vector<std::string> parts = {fs::absolute(o->file).string()};
    if (const auto split = gguf::parse_split_name(o->file))
      for (uint32_t i = 2; i <= split->count; ++i)
        parts.push_back(fs::absolute(gguf::split_path(split->prefix, i, split->count)).string());
    for (const std::string& p : parts) m.files.push_back({p, store::sha256_file(p), uint64_t(fs::file_size(p))});
    m.created = store::utc_now();
    const store::Store st = open_store();
    if (st.find(m.name)) fail("'{}' is already in the store; remove it first (hearth rm {})", m.name, m.name);
    st.save(m);
    fmt::print("imported {} as {} ({})\n", o->file, m.name, human_size(m.total_size()));
  });
}

}  // namespace hearth::cli

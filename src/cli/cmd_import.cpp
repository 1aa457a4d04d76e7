// `hearth import FILE.gguf --name NAME [--mmproj FILE]`: adds a local GGUF
// file to the store by reference (the file stays where it is; `rm` does not
// delete it), with its multimodal projector: the one given, else the one
// mmproj*.gguf beside it whose width fits the model, when there is one.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/image_input.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::cli {

void add_import_command(CLI::App& app) {
  struct Options {
    std::string file, name, mmproj;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("import", "Add a local GGUF file to the store under a name");
  cmd->add_option("file", o->file, "GGUF file (the first part of a split model)")->required();
  cmd->add_option("--name", o->name, "The name to use it by")->required();
  cmd->add_option("--mmproj", o->mmproj,
                  "Its multimodal projector (default: the one mmproj*.gguf beside it that fits it, if any)");
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
    const std::string arch = file.metadata().get_string_or("general.architecture", "");
    const int64_t n_embd = file.metadata().get_int_or(arch + ".embedding_length", 0);
    std::string projector;
    if (!o->mmproj.empty()) {
      projector = find_mmproj(o->file, o->mmproj, n_embd);
    } else {
      try {  // beside it: paired when exactly one fits; none (or several) is no error here
        projector = find_mmproj(o->file, "", n_embd);
      } catch (const Error&) {
      }
    }
    if (!projector.empty())
      m.mmproj = store::StoredFile{fs::absolute(projector).string(), store::sha256_file(projector),
                                   uint64_t(fs::file_size(projector))};
    m.created = store::utc_now();
    const store::Store st = open_store();
    if (st.find(m.name)) fail("'{}' is already in the store; remove it first (hearth rm {})", m.name, m.name);
    st.save(m);
    fmt::print("imported {} as {} ({}){}\n", o->file, m.name, human_size(m.total_size()),
               m.mmproj ? ", with the projector " + m.mmproj->path : std::string());
  });
}

}  // namespace hearth::cli

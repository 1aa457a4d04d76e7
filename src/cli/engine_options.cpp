#include "cli/engine_options.h"

#include <filesystem>
#include <unistd.h>

#include <fmt/format.h>

#include "backend/device.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "runtime/flash_attention.h"
#if HEARTH_VULKAN
#include "backend/vulkan/instance.h"
#endif

namespace hearth::cli {
namespace {

DType parse_cache_type(const std::string& name, const char* which) {
  const auto type = dtype_from_name(name);
  if (!type) fail("unknown {} cache type '{}' (use f32, f16, bf16, q8_0 or q4_0)", which, name);
  return *type;
}

// The device --devices picks (the default: a discrete or integrated GPU when
// there is one), or null with `why` set to one line: then the CPU runs it.
std::unique_ptr<backend::DeviceBackend> pick_device(const std::string& spec, std::string* why) {
  if (spec == "none" || spec == "cpu") return nullptr;
#if HEARTH_VULKAN
  const std::vector<backend::DeviceInfo> available = vulkan::list_devices(why);
  if (available.empty()) return nullptr;
  const backend::DeviceSelection selection = backend::select_devices(available, spec);
  if (selection.devices.empty()) {
    *why = selection.why;
    return nullptr;
  }
  if (selection.devices.size() > 1)
    fail("--devices {}: splitting the layers across {} devices is not supported yet; name one device", spec,
         selection.devices.size());
  return vulkan::make_backend(selection.devices.front().id);
#else
  *why = "this hearth was built without Vulkan (configure with -DHEARTH_VULKAN=ON)";
  if (!spec.empty()) fail("--devices {}: {}", spec, *why);
  return nullptr;
#endif
}

}  // namespace

void add_engine_options(CLI::App* cmd, EngineOptions& o) {
  cmd->add_option("-c,--ctx", o.n_ctx, "Context size in tokens (default: the model's, at most 4096)");
  cmd->add_option("--ubatch", o.n_ubatch, "Tokens per forward pass during prompt processing")->capture_default_str();
  cmd->add_option("--ctk", o.type_k, "K cache type: f32, f16, bf16, q8_0, q4_0")->capture_default_str();
  cmd->add_option("--ctv", o.type_v, "V cache type: f32, f16, bf16, q8_0, q4_0")->capture_default_str();
  cmd->add_option("--fa", o.flash_attn, "Flash attention: on, off, auto")
      ->check(CLI::IsMember({"on", "off", "auto"}))
      ->capture_default_str();
  cmd->add_option("-t,--threads", o.n_threads, "CPU threads (default: all cores)");
  cmd->add_option("--isa", o.isa, "Force a kernel set: scalar, avx2, avx512 (default: the best this CPU has)");
  cmd->add_option("--devices", o.devices,
                  "GPU to run on: vulkan0, ... (see `hearth devices`; a CPU-type device such as lavapipe only "
                  "when named), or none for the CPU (default: the first GPU, if any)");
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& dir : {exe.parent_path(), exe.parent_path().parent_path(), exe.parent_path().parent_path().parent_path()}) {
    for (const char* relative : {"models/stories260K.gguf", "share/hearth/stories260K.gguf"}) {
      const fs::path candidate = dir / relative;
      if (!dir.empty() && fs::exists(candidate)) return candidate.string();
    }
  }
  fail("no model given and the bundled models/stories260K.gguf was not found near {}", exe.string());
}

LoadedEngine load_engine(const std::string& model_path, const EngineOptions& o) {
  LoadedEngine engine;
  engine.file = std::make_shared<const gguf::File>(gguf::File::open(resolve_model_path(model_path)));
  engine.model = model::Model::load(engine.file);
  const int threads = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  engine.backend = backend::make_cpu_backend(threads, o.isa);
  runtime::SessionConfig config;
  const int64_t n_ctx_train = engine.model->hparams().n_ctx_train;
  config.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(n_ctx_train > 0 ? n_ctx_train : 4096, 4096);
  config.n_ubatch = o.n_ubatch;
  config.type_k = parse_cache_type(o.type_k, "K");
  config.type_v = parse_cache_type(o.type_v, "V");
  config.flash_attn = runtime::use_flash_attention(o.flash_attn, config.type_v);
  std::string why;
  engine.device = pick_device(o.devices, &why);
  const int n_layer = engine.model->hparams().n_layer;
  if (engine.device) {
    const backend::DeviceInfo& d = engine.device->info();
    engine.placement = fmt::format("layers 0-{} and the output on {} ({}, {})", n_layer - 1, d.id, d.name,
                                   backend::device_kind_name(d.kind));
    engine.session = std::make_unique<runtime::Session>(*engine.model, *engine.device, config);
  } else {
    engine.placement = fmt::format("layers 0-{} and the output on the CPU ({})", n_layer - 1, engine.backend->name());
    // Named devices that cannot be used: one line why, then the CPU.
    if (!o.devices.empty() && o.devices != "none" && o.devices != "cpu")
      fmt::print(stderr, "hearth: --devices {}: {}; running on the CPU\n", o.devices, why);
    engine.session = std::make_unique<runtime::Session>(*engine.model, *engine.backend, config);
  }
  return engine;
}

}  // namespace hearth::cli

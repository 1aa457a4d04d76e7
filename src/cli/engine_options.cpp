#include "cli/engine_options.h"

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend/device.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "runtime/flash_attention.h"
#include "runtime/layer_split.h"
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

// The session across the CPU and the devices: --gpu-layers (default: all
// that fit) of the layers, the output counting as one, split across the
// devices by --tensor-split (default: by their memory).
void split_session(LoadedEngine& engine, const EngineOptions& o, const runtime::SessionConfig& config) {
  const model::Model& model = *engine.model;
  std::vector<backend::DeviceInfo> infos;
  for (const auto& d : engine.devices) infos.push_back(d->info());
  const std::vector<runtime::LayerRun> runs =
      runtime::choose_layer_runs(model, config, infos, o.gpu_layers, o.tensor_split);
  std::vector<model::LayerPlacement> split;
  std::vector<std::string> names;
  for (size_t i = 0; i < runs.size(); ++i) {
    const runtime::LayerRun& run = runs[i];
    backend::DeviceBackend* dev = nullptr;
    std::string name;
    if (run.device == runtime::kCpuDevice) {
      engine.cpu_part = runtime::make_prepared_host_device(model, *engine.backend, config, run.first_layer,
                                                           run.end_layer, i + 1 == runs.size());
      dev = engine.cpu_part.get();
      name = engine.backend->name();
    } else {
      dev = engine.devices[size_t(run.device)].get();
      name = dev->info().id;
    }
    split.push_back({dev, run.first_layer, run.end_layer});
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  engine.placement = fmt::to_string(fmt::join(runtime::describe_layer_runs(runs, infos, engine.backend->name()), "\n"));
  engine.backends = fmt::to_string(fmt::join(names, "+"));
  engine.session = std::make_unique<runtime::Session>(model, split, config);
}

// The devices --devices picks (the default: the discrete and integrated GPUs),
// opened, or none with `why` set to one line: then the CPU runs it all.
std::vector<std::unique_ptr<backend::DeviceBackend>> pick_devices(const std::string& spec, std::string* why) {
  std::vector<std::unique_ptr<backend::DeviceBackend>> opened;
  if (spec == "none" || spec == "cpu") return opened;
#if HEARTH_VULKAN
  const std::vector<backend::DeviceInfo> available = vulkan::list_devices(why);
  if (available.empty()) return opened;
  const backend::DeviceSelection selection = backend::select_devices(available, spec);
  if (selection.devices.empty()) *why = selection.why;
  for (const backend::DeviceInfo& d : selection.devices) opened.push_back(vulkan::make_backend(d.id));
#else
  *why = "this hearth was built without Vulkan (configure with -DHEARTH_VULKAN=ON)";
  if (!spec.empty()) fail("--devices {}: {}", spec, *why);
#endif
  return opened;
}

}  // namespace

std::vector<std::unique_ptr<backend::DeviceBackend>> open_devices(const EngineOptions& o) {
  std::string why;
  std::vector<std::unique_ptr<backend::DeviceBackend>> devices = pick_devices(o.devices, &why);
  if (!devices.empty()) return devices;
  // Named devices that cannot be used: one line why, then the CPU.
  if (!o.devices.empty() && o.devices != "none" && o.devices != "cpu")
    fmt::print(stderr, "hearth: --devices {}: {}; running on the CPU\n", o.devices, why);
  else if (o.devices.empty() && (!o.gpu_layers.empty() || !o.tensor_split.empty()))
    fmt::print(stderr, "hearth: {}{}: no GPU to put layers on ({}); running on the CPU\n",
               o.gpu_layers.empty() ? "" : "--gpu-layers " + o.gpu_layers,
               o.tensor_split.empty() ? "" : (o.gpu_layers.empty() ? "" : " ") + ("--tensor-split " + o.tensor_split),
               why);
  return devices;
}

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
                  "GPUs to run on: vulkan0, vulkan0,vulkan1, ... (see `hearth devices`; a CPU-type device such as "
                  "lavapipe only when named), or none for the CPU (default: the discrete and integrated GPUs)");
  cmd->add_option("--gpu-layers", o.gpu_layers,
                  "Layers on the GPUs, the last ones, the output counting as one (as llama.cpp's -ngl): a number "
                  "or all (default: all that fit); the others and their KV stay on the CPU");
  cmd->add_option("--tensor-split", o.tensor_split,
                  "Split the GPU layers across the --devices in these proportions, e.g. 3,1 (default: by memory)");
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
  engine.devices = open_devices(o);
  if (!engine.devices.empty()) {
    split_session(engine, o, config);
  } else {
    const int n_layer = engine.model->hparams().n_layer;
    engine.placement = fmt::format("layers 0-{} and the output on the CPU ({})", n_layer - 1, engine.backend->name());
    engine.backends = engine.backend->name();
    engine.session = std::make_unique<runtime::Session>(*engine.model, *engine.backend, config);
  }
  return engine;
}

}  // namespace hearth::cli

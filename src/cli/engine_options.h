// Options every command that evaluates a model shares (--ctx, --ctk, --ctv,
// --fa, --threads, --ubatch), and turning them into a session.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend/backend.h"
#include "backend/device.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/session.h"

namespace hearth::cli {

struct EngineOptions {
  int64_t n_ctx = 0;  // 0: min(the model's training context, 4096)
  int64_t n_ubatch = 512;
  std::string type_k = "f16";
  std::string type_v = "f16";
  std::string flash_attn = "auto";  // on, off, auto (on when a V cache is quantized)
  int n_threads = 0;                // 0: every core
  std::string isa;                  // force a kernel set: scalar, avx2, avx512
  std::string devices;              // --devices: "" (GPUs if any), "vulkan0", "vulkan0,vulkan1", "none"/"cpu"
  std::string gpu_layers;           // --gpu-layers: "" (all that fit), "all", or a count (the output one of them)
  std::string tensor_split;         // --tensor-split: "" (by device memory), or shares "3,1"
};

void add_engine_options(CLI::App* cmd, EngineOptions& options);

// The model file, the model, a backend and a session, ready to evaluate.
struct LoadedEngine {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
  std::vector<std::unique_ptr<backend::DeviceBackend>> devices;  // the GPUs layers run on; none: the CPU alone
  std::unique_ptr<backend::DeviceBackend> cpu_part;  // the CPU's share of a split (over `backend`), or null
  std::string placement;  // where the layers run: a line per range of layers ("layers 0-3 on the CPU (avx2)")
  std::string backends;   // what bench reports: "vulkan0", "avx2+vulkan0", or the CPU backend's name
  std::unique_ptr<runtime::Session> session;
  // The backends the layers run on, in layer order.
  const std::string& backend_name() const { return backends; }
};
LoadedEngine load_engine(const std::string& model_path, const EngineOptions& options);

// The devices --devices picks (by default the discrete and integrated GPUs),
// opened; none when the CPU is to run it all, after one line on stderr
// saying why when devices were asked for but cannot be used. `run`, `bench`
// and `serve` open their devices here.
std::vector<std::unique_ptr<backend::DeviceBackend>> open_devices(const EngineOptions& options);

// The bundled default model: models/stories260K.gguf beside the program's
// source tree or installed next to the binary.
std::string default_model_path();

}  // namespace hearth::cli

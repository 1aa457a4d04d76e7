// Options every command that evaluates a model shares (--ctx, --ctk, --ctv,
// --fa, --threads, --ubatch), and turning them into a session.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "backend/backend.h"
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
  std::string devices;              // --devices: "" (GPUs if any), "vulkan0", "none"/"cpu"
};

void add_engine_options(CLI::App* cmd, EngineOptions& options);

// The model file, the model, a backend and a session, ready to evaluate.
struct LoadedEngine {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<backend::DeviceBackend> device;  // the GPU the session runs on, or null (the CPU)
  std::string placement;                          // where the layers run, one line
  std::unique_ptr<runtime::Session> session;
  // The backend the layers run on: "vulkan0" or the CPU backend's name.
  std::string backend_name() const { return device ? device->info().id : backend->name(); }
};
LoadedEngine load_engine(const std::string& model_path, const EngineOptions& options);

// The bundled default model: models/stories260K.gguf beside the program's
// source tree or installed next to the binary.
std::string default_model_path();

}  // namespace hearth::cli

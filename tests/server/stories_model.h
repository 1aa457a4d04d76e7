// The bundled stories260K as a served model with a small context: what the
// server tests that need a real model but not its answers' quality load.
#pragma once

#include <memory>

#include "common/fixtures.h"
#include "server/served_model.h"

namespace hearth::test {

inline std::unique_ptr<server::ServedModel> load_stories260K() {
  server::ModelLoadOptions m;
  m.path = (source_dir() / "models/stories260K.gguf").string();
  m.n_ctx = 256;
  m.n_parallel = 2;
  m.n_batch = 64;
  m.n_threads = 1;
  return server::ServedModel::load(m);
}

}  // namespace hearth::test

// What a conversation's KV cache costs, by layer kind: global layers hold
// every position of the context, sliding-window layers only their window
// (plus the tokens of one forward pass). Used for the startup message and
// for planning before anything is allocated.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "model/model.h"

namespace hearth::runtime {

struct KvMemory {
  int n_global_layers = 0, n_sliding_layers = 0;
  int64_t global_rows = 0, sliding_rows = 0;     // positions each layer of that kind holds
  uint64_t global_bytes = 0, sliding_bytes = 0;  // K and V of all layers of that kind
  uint64_t bytes() const { return global_bytes + sliding_bytes; }
};

// K and V bytes when global layers hold global_rows positions and
// sliding-window layers sliding_rows: per layer, rows x (K row + V row bytes).
KvMemory kv_memory(const model::Model& model, int64_t global_rows, int64_t sliding_rows, DType type_k, DType type_v);

// "40.0 MiB (1 global layer x 4096 positions: 16.0 MiB; 5 sliding-window
// layers x 287 positions: 5.6 MiB)", or "40.0 MiB" with one kind of layer.
std::string describe(const KvMemory& memory);

}  // namespace hearth::runtime

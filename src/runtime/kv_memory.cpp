#include "runtime/kv_memory.h"

#include <fmt/format.h>

namespace hearth::runtime {

KvMemory kv_memory(const model::Model& model, int64_t global_rows, int64_t sliding_rows, DType type_k, DType type_v) {
  KvMemory m;
  m.global_rows = global_rows;
  m.sliding_rows = sliding_rows;
  const auto k_widths = model.kv_widths_k(), v_widths = model.kv_widths_v();
  for (int l = 0; l < model.hparams().n_layer; ++l) {
    const uint64_t per_row = row_bytes(type_k, k_widths[size_t(l)]) + row_bytes(type_v, v_widths[size_t(l)]);
    if (model.layer_sliding(l)) {
      ++m.n_sliding_layers;
      m.sliding_bytes += uint64_t(sliding_rows) * per_row;
    } else {
      ++m.n_global_layers;
      m.global_bytes += uint64_t(global_rows) * per_row;
    }
  }
  return m;
}

std::string describe(const KvMemory& m) {
  const auto mib = [](uint64_t bytes) { return double(bytes) / double(1 << 20); };
  if (m.n_sliding_layers == 0 || m.n_global_layers == 0) return fmt::format("{:.1f} MiB", mib(m.bytes()));
  return fmt::format("{:.1f} MiB ({} global layer{} x {} positions: {:.1f} MiB; {} sliding-window layer{} x {} "
                     "positions: {:.1f} MiB)",
                     mib(m.bytes()), m.n_global_layers, m.n_global_layers == 1 ? "" : "s", m.global_rows,
                     mib(m.global_bytes), m.n_sliding_layers, m.n_sliding_layers == 1 ? "" : "s", m.sliding_rows,
                     mib(m.sliding_bytes));
}

}  // namespace hearth::runtime

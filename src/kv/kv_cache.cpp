#include "kv/kv_cache.h"

#include "core/error.h"

namespace hearth::kv {

void KvCache::check_type(DType type, int64_t width, const char* which) {
  switch (type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: break;
    default: fail("{} cache type {} is not supported (use f32, f16, bf16, q8_0 or q4_0)", which, dtype_name(type));
  }
  const auto block = dtype_info(type).block_size;
  if (width % block != 0)
    fail("{} cache type {} needs rows that are a multiple of {}, but this model's are {}", which, dtype_name(type),
         block, width);
}

uint64_t KvCache::bytes_for(const KvConfig& config, const std::vector<int64_t>& k_widths,
                            const std::vector<int64_t>& v_widths, const std::vector<int64_t>& layer_rows) {
  uint64_t total = 0;
  for (size_t l = 0; l < k_widths.size(); ++l) {
    const int64_t rows = layer_rows.empty() ? config.n_ctx : layer_rows[l];
    total += uint64_t(rows) * (row_bytes(config.type_k, k_widths[l]) + row_bytes(config.type_v, v_widths[l]));
  }
  return total;
}

KvCache::KvCache(backend::DeviceBackend& dev, const KvConfig& config, const std::vector<int64_t>& k_widths,
                 const std::vector<int64_t>& v_widths)
    : KvCache(dev, config, k_widths, v_widths, std::vector<int64_t>(k_widths.size(), config.n_ctx)) {}

KvCache::KvCache(backend::DeviceBackend& dev, const KvConfig& config, const std::vector<int64_t>& k_widths,
                 const std::vector<int64_t>& v_widths, const std::vector<int64_t>& layer_rows)
    : dev_(dev), config_(config), rows_(layer_rows) {
  if (config.n_ctx <= 0) fail("context size must be positive, got {}", config.n_ctx);
  if (layer_rows.size() != k_widths.size())
    fail("internal: KV rows are given for {} layers, the model has {}", layer_rows.size(), k_widths.size());
  for (size_t l = 0; l < k_widths.size(); ++l) {
    check_type(config.type_k, k_widths[l], "K");
    check_type(config.type_v, v_widths[l], "V");
    if (layer_rows[l] < 0) fail("internal: KV layer {} is given {} rows", l, layer_rows[l]);
  }
  for (size_t l = 0; l < k_widths.size(); ++l) {
    const bool held = layer_rows[l] > 0;  // 0: the layer runs on another device, its KV there
    k_.push_back(held ? dev.alloc(config.type_k, k_widths[l], layer_rows[l]) : backend::DeviceTensor{});
    v_.push_back(held ? dev.alloc(config.type_v, v_widths[l], layer_rows[l]) : backend::DeviceTensor{});
  }
}

KvCache::~KvCache() {
  for (const auto* tensors : {&k_, &v_})
    for (const backend::DeviceTensor& t : *tensors) dev_.free(t);
}

uint64_t KvCache::bytes() const {
  uint64_t total = 0;
  for (size_t l = 0; l < k_.size(); ++l) total += k_[l].bytes() + v_[l].bytes();
  return total;
}

}  // namespace hearth::kv

// KV memory: for every layer a K and a V tensor of rows on a DeviceBackend,
// in the types the user chose (f32, f16, bf16, q8_0, q4_0), allocated once up
// front and freed with the cache. Layers
// may hold different numbers of rows: a sliding-window layer keeps only its
// window (as a ring or in paged blocks), a global layer every position. Which
// position a row holds is the caller's business (positions, block tables).
#pragma once

#include <cstdint>
#include <vector>

#include "backend/device.h"

namespace hearth::kv {

struct KvConfig {
  int64_t n_ctx = 0;
  DType type_k = DType::F16;
  DType type_v = DType::F16;
};

class KvCache {
 public:
  // widths[l] = n_head_kv * head_dim of layer l (K and V alike); every layer n_ctx rows.
  KvCache(backend::DeviceBackend& dev, const KvConfig& config, const std::vector<int64_t>& k_widths,
          const std::vector<int64_t>& v_widths);
  // Layer l holds layer_rows[l] rows (config.n_ctx is the largest); 0: the
  // cache does not hold layer l (in a split, another device's cache does).
  KvCache(backend::DeviceBackend& dev, const KvConfig& config, const std::vector<int64_t>& k_widths,
          const std::vector<int64_t>& v_widths, const std::vector<int64_t>& layer_rows);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  ~KvCache();

  const backend::DeviceTensor& k(int layer) const { return k_[size_t(layer)]; }
  const backend::DeviceTensor& v(int layer) const { return v_[size_t(layer)]; }
  int64_t n_ctx() const { return config_.n_ctx; }
  int64_t rows(int layer) const { return rows_[size_t(layer)]; }
  uint64_t bytes() const;
  // Bytes a cache of this shape takes, for planning before allocating
  // (every layer n_ctx rows, or layer_rows[l] rows when given).
  static uint64_t bytes_for(const KvConfig& config, const std::vector<int64_t>& k_widths,
                            const std::vector<int64_t>& v_widths, const std::vector<int64_t>& layer_rows = {});
  static void check_type(DType type, int64_t width, const char* which);

 private:
  backend::DeviceBackend& dev_;
  KvConfig config_;
  std::vector<backend::DeviceTensor> k_, v_;
  std::vector<int64_t> rows_;
};

}  // namespace hearth::kv

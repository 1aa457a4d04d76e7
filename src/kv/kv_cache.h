// The KV cache of one sequence: for every layer a K and a V buffer of n_ctx
// rows, in the types the user chose (f32, f16, bf16, q8_0, q4_0), allocated
// once up front. Row i holds position i.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace hearth::kv {

struct KvConfig {
  int64_t n_ctx = 0;
  DType type_k = DType::F16;
  DType type_v = DType::F16;
};

class KvCache {
 public:
  // widths[l] = n_head_kv * head_dim of layer l (K and V alike).
  KvCache(const KvConfig& config, const std::vector<int64_t>& k_widths, const std::vector<int64_t>& v_widths);

  backend::KvView k(int layer) { return {config_.type_k, k_[layer].data(), k_row_bytes_[layer]}; }
  backend::KvView v(int layer) { return {config_.type_v, v_[layer].data(), v_row_bytes_[layer]}; }
  int64_t n_ctx() const { return config_.n_ctx; }
  uint64_t bytes() const;
  // Bytes a cache of this shape takes, for planning before allocating.
  static uint64_t bytes_for(const KvConfig& config, const std::vector<int64_t>& k_widths,
                            const std::vector<int64_t>& v_widths);
  static void check_type(DType type, int64_t width, const char* which);

 private:
  KvConfig config_;
  std::vector<std::vector<uint8_t>> k_, v_;
  std::vector<size_t> k_row_bytes_, v_row_bytes_;
};

}  // namespace hearth::kv

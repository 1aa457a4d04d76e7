// One device's share of a model split across devices (model::LayerPlacement),
// as Session and BatchEngine hold it: the weights of its layers (uploaded on
// first use), a KV cache holding only its layers' rows (the other layers'
// entries empty: their KV is on their own device), and a forward workspace,
// with the logits buffer only on the part that runs the output.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/model.h"

namespace hearth::runtime {

struct DevicePart {
  // layer_rows: every layer's KV rows were it all on this device.
  DevicePart(const model::Model& model, const model::LayerPlacement& placement, const kv::KvConfig& kv_config,
             std::vector<int64_t> layer_rows, int64_t max_rows, bool output);
  DevicePart(const DevicePart&) = delete;
  DevicePart& operator=(const DevicePart&) = delete;

  model::LayerPlacement placement;
  bool output;
  model::DeviceWeights weights;
  kv::KvCache kv;
  model::Workspace workspace;

  model::ForwardContext context(bool flash_attn) {
    return {*placement.dev, weights, kv, workspace, flash_attn, placement.first_layer, placement.end_layer, output};
  }
  // The cache holding layer l's KV among the parts.
  static const kv::KvCache& kv_of(std::span<const std::unique_ptr<DevicePart>> parts, int layer);
  static backend::DeviceBackend& device_of(std::span<const std::unique_ptr<DevicePart>> parts, int layer);
};

// Throws unless the split covers the model's layers once, in order, each on a
// device.
void check_split(const model::Model& model, std::span<const model::LayerPlacement> split);

// The parts of a split, each with its ForwardContext.
struct DeviceParts {
  std::vector<std::unique_ptr<DevicePart>> parts;
  std::vector<model::ForwardContext> contexts;
  DeviceParts(const model::Model& model, std::span<const model::LayerPlacement> split, const kv::KvConfig& kv_config,
              const std::vector<int64_t>& layer_rows, int64_t max_rows, bool flash_attn);
  uint64_t kv_bytes() const;
  std::vector<model::LayerPlacement> placement() const;
};

}  // namespace hearth::runtime

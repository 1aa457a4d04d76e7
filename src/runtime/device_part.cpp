#include "runtime/device_part.h"

#include "core/error.h"

namespace hearth::runtime {

namespace {

std::vector<int64_t> own_rows(std::vector<int64_t> rows, const model::LayerPlacement& p) {
  for (int l = 0; l < int(rows.size()); ++l)
    if (l < p.first_layer || l >= p.end_layer) rows[size_t(l)] = 0;
  return rows;
}

const DevicePart& part_of(std::span<const std::unique_ptr<DevicePart>> parts, int layer) {
  for (const auto& part : parts)
    if (layer >= part->placement.first_layer && layer < part->placement.end_layer) return *part;
  fail("internal: no device holds layer {}", layer);
}

}  // namespace

DevicePart::DevicePart(const model::Model& model, const model::LayerPlacement& p, const kv::KvConfig& kv_config,
                       std::vector<int64_t> layer_rows, int64_t max_rows, bool output)
    : placement(p),
      output(output),
      weights(*p.dev),
      kv(*p.dev, kv_config, model.kv_widths_k(), model.kv_widths_v(), own_rows(std::move(layer_rows), p)),
      workspace(model.make_workspace(*p.dev, max_rows, output)) {}

const kv::KvCache& DevicePart::kv_of(std::span<const std::unique_ptr<DevicePart>> parts, int layer) {
  return part_of(parts, layer).kv;
}

backend::DeviceBackend& DevicePart::device_of(std::span<const std::unique_ptr<DevicePart>> parts, int layer) {
  return *part_of(parts, layer).placement.dev;
}

void check_split(const model::Model& model, std::span<const model::LayerPlacement> split) {
  const int n_layer = model.hparams().n_layer;
  if (split.empty()) fail("internal: a model split over no device");
  for (size_t i = 0; i < split.size(); ++i) {
    const model::LayerPlacement& p = split[i];
    const int first = i == 0 ? 0 : split[i - 1].end_layer;
    if (p.dev == nullptr || p.first_layer != first || p.end_layer < p.first_layer || p.end_layer > n_layer ||
        (i + 1 == split.size() && p.end_layer != n_layer))
      fail("internal: placement {} holds layers [{}, {}) of {}; a split covers every layer once, in order", i,
           p.first_layer, p.end_layer, n_layer);
  }
}

DeviceParts::DeviceParts(const model::Model& model, std::span<const model::LayerPlacement> split,
                         const kv::KvConfig& kv_config, const std::vector<int64_t>& layer_rows, int64_t max_rows,
                         bool flash_attn) {
  check_split(model, split);
  for (size_t i = 0; i < split.size(); ++i) {
    parts.push_back(
        std::make_unique<DevicePart>(model, split[i], kv_config, layer_rows, max_rows, i + 1 == split.size()));
    contexts.push_back(parts.back()->context(flash_attn));
  }
}

uint64_t DeviceParts::kv_bytes() const {
  uint64_t total = 0;
  for (const auto& part : parts) total += part->kv.bytes();
  return total;
}

std::vector<model::LayerPlacement> DeviceParts::placement() const {
  std::vector<model::LayerPlacement> out;
  for (const auto& part : parts) out.push_back(part->placement);
  return out;
}

}  // namespace hearth::runtime

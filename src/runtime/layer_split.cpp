#include "runtime/layer_split.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"

#include <fmt/format.h>

namespace hearth::runtime {

std::vector<LayerRun> split_layers(int n_layer, int gpu_layers, std::span<const double> proportions) {
  if (n_layer < 0 || gpu_layers < 0) fail("internal: {} GPU layers of {}", gpu_layers, n_layer);
  // The cumulative shares, normalised to end at 1 (llama.cpp's split points).
  std::vector<double> points(proportions.begin(), proportions.end());
  double sum = 0;
  for (double& p : points) {
    if (!(p >= 0)) fail("internal: a negative tensor-split share");
    sum += p;
    p = sum;
  }
  if (gpu_layers > 0 && (points.empty() || sum <= 0)) fail("internal: GPU layers without a GPU share");
  for (double& p : points) p /= sum;

  const int n_all = n_layer + 1;  // the output is "layer" n_layer
  const int gpu_start = std::max(n_all - gpu_layers, 0);
  const int n_gpu = std::min(gpu_layers, n_all);
  auto device_of = [&](int il) {
    if (il < gpu_start) return kCpuDevice;
    const double at = double(il - gpu_start) / n_gpu;
    return int(std::upper_bound(points.begin(), points.end(), at) - points.begin());
  };
  std::vector<LayerRun> runs;
  for (int il = 0; il < n_layer; ++il) {
    const int device = device_of(il);
    if (runs.empty() || runs.back().device != device)
      runs.push_back({device, il, il + 1});
    else
      runs.back().end_layer = il + 1;
  }
  const int output_device = device_of(n_layer);
  if (runs.empty() || runs.back().device != output_device) runs.push_back({output_device, n_layer, n_layer});
  return runs;
}

namespace {

uint64_t matrix_bytes(const backend::Weight& w) { return w.empty() ? 0 : uint64_t(w.n_out * w.n_mat) * w.row_bytes; }

uint64_t workspace_bytes(const model::Model& model, int64_t max_rows, bool with_logits) {
  uint64_t total = 0;
  for (const auto& s : model.workspace_shapes(max_rows, with_logits)) total += uint64_t(s.rows) * row_bytes(s.type, s.n);
  return total;
}

}  // namespace

uint64_t layer_weight_bytes(const model::Model& model, int layer) {
  const model::Layer& L = model.weights().layers[size_t(layer)];
  uint64_t total = 0;
  for (const backend::Weight* w : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down,
                                   &L.ffn_gate_inp, &L.gate_exps, &L.up_exps, &L.down_exps})
    total += matrix_bytes(*w);
  return total;
}

uint64_t output_weight_bytes(const model::Model& model) { return matrix_bytes(model.weights().output); }

int gpu_layers_that_fit(const model::Model& model, const SessionConfig& config, std::span<const uint64_t> memory,
                        std::span<const double> proportions) {
  const model::HParams& hp = model.hparams();
  const int64_t max_rows = std::min(config.n_ubatch, config.n_ctx);
  const int64_t sliding_rows = Session::sliding_rows_for(model.has_sliding_layers() ? hp.sliding_window : 0,
                                                         config.n_ctx, config.n_ubatch);
  const std::vector<int64_t> kv_rows = model.kv_rows(config.n_ctx, sliding_rows);
  const std::vector<int64_t> k_widths = model.kv_widths_k(), v_widths = model.kv_widths_v();
  std::vector<uint64_t> layer_bytes(size_t(hp.n_layer));
  for (int l = 0; l < hp.n_layer; ++l)
    layer_bytes[size_t(l)] = layer_weight_bytes(model, l) +
                             uint64_t(kv_rows[size_t(l)]) * (row_bytes(config.type_k, k_widths[size_t(l)]) +
                                                             row_bytes(config.type_v, v_widths[size_t(l)]));
  const backend::Weight& embd = model.weights().token_embd;
  const bool tied = embd.data == model.weights().output.data;
  const uint64_t part_workspace = workspace_bytes(model, max_rows, false);
  const uint64_t logits_workspace = workspace_bytes(model, max_rows, true) - part_workspace;

  for (int gpu_layers = hp.n_layer + 1; gpu_layers > 0; --gpu_layers) {
    std::vector<uint64_t> need(memory.size(), 0);
    const std::vector<LayerRun> runs = split_layers(hp.n_layer, gpu_layers, proportions);
    for (size_t r = 0; r < runs.size(); ++r) {
      const LayerRun& run = runs[r];
      if (run.device == kCpuDevice) continue;
      uint64_t& bytes = need[size_t(run.device)];
      bytes += part_workspace;
      for (int l = run.first_layer; l < run.end_layer; ++l) bytes += layer_bytes[size_t(l)];
      const bool output = r + 1 == runs.size();
      if (output) bytes += output_weight_bytes(model) + logits_workspace;
      if (run.first_layer == 0 && !(tied && output)) bytes += matrix_bytes(embd);
    }
    bool fits = true;
    for (size_t d = 0; d < memory.size(); ++d) fits = fits && need[d] <= memory[d] - memory[d] / 10;
    if (fits) return gpu_layers;
  }
  return 0;
}

std::vector<double> parse_tensor_split(const std::string& text, size_t n_devices) {
  std::vector<double> shares;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    double value = -1;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || !(value >= 0))
      fail("--tensor-split {}: '{}' is not a non-negative number (give one share per device, e.g. 3,1)", text, item);
    shares.push_back(value);
    start = comma + 1;
  }
  if (shares.size() != n_devices)
    fail("--tensor-split {}: {} share(s) for {} device(s) in --devices; give one per device", text, shares.size(),
         n_devices);
  if (std::all_of(shares.begin(), shares.end(), [](double s) { return s == 0; }))
    fail("--tensor-split {}: every share is 0; give at least one device a share", text);
  return shares;
}

int parse_gpu_layers(const std::string& text, int n_layer) {
  if (text == "all") return n_layer + 1;
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0)
    fail("--gpu-layers {}: give a number of layers (0 to {}, the output counting as one) or all", text, n_layer + 1);
  return std::min(value, n_layer + 1);
}

std::vector<LayerRun> choose_layer_runs(const model::Model& model, const SessionConfig& config,
                                        std::span<const backend::DeviceInfo> devices, const std::string& gpu_layers,
                                        const std::string& tensor_split) {
  const int n_layer = model.hparams().n_layer;
  std::vector<double> shares;
  std::vector<uint64_t> memory;
  for (const backend::DeviceInfo& d : devices) memory.push_back(d.memory_bytes);
  if (tensor_split.empty())
    shares.assign(memory.begin(), memory.end());
  else
    shares = parse_tensor_split(tensor_split, devices.size());
  if (std::all_of(shares.begin(), shares.end(), [](double s) { return s == 0; })) shares.assign(shares.size(), 1.0);
  const int offloaded = gpu_layers.empty() ? gpu_layers_that_fit(model, config, memory, shares)
                                           : parse_gpu_layers(gpu_layers, n_layer);
  return split_layers(n_layer, offloaded, shares);
}

std::vector<std::string> describe_layer_runs(std::span<const LayerRun> runs,
                                             std::span<const backend::DeviceInfo> devices, const std::string& cpu_name) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < runs.size(); ++i) {
    const LayerRun& run = runs[i];
    const bool output = i + 1 == runs.size();
    std::string layers;
    if (run.end_layer - run.first_layer == 1)
      layers = fmt::format("layer {}", run.first_layer);
    else if (run.end_layer > run.first_layer)
      layers = fmt::format("layers {}-{}", run.first_layer, run.end_layer - 1);
    if (output) layers += layers.empty() ? "the output" : " and the output";
    std::string where;
    if (run.device == kCpuDevice) {
      where = fmt::format("the CPU ({})", cpu_name);
    } else {
      const backend::DeviceInfo& d = devices[size_t(run.device)];
      where = fmt::format("{} ({}, {})", d.id, d.name, backend::device_kind_name(d.kind));
    }
    lines.push_back(fmt::format("{} on {}", layers, where));
  }
  return lines;
}

}  // namespace hearth::runtime

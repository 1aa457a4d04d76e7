// Which device runs which layers (--gpu-layers, --tensor-split), placed as
// llama.cpp places them (llama-model.cpp, load_tensors): the n_layer
// repeating layers and the output count as n_layer + 1; the last gpu_layers
// of them go to the GPUs, the first ones stay on the CPU (so `--gpu-layers 1`
// offloads the output alone); the offloaded ones are split across the GPUs in
// proportion, layer i of the m offloaded going to the first GPU whose
// cumulative share exceeds i / m. The tokens are embedded on the device of
// layer 0 (llama.cpp keeps its input on the CPU; the CPU part already is
// there when any layer stays on the CPU).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/device.h"
#include "model/model.h"
#include "runtime/session.h"

namespace hearth::runtime {

inline constexpr int kCpuDevice = -1;

// A run of consecutive layers [first_layer, end_layer) on one device: an
// index into the GPU list, or kCpuDevice. The last run also holds the output
// (its range is empty when the output alone is on its device).
struct LayerRun {
  int device = kCpuDevice;
  int first_layer = 0;
  int end_layer = 0;
  bool operator==(const LayerRun&) const = default;
};

// The runs for n_layer layers with gpu_layers offloaded (at least n_layer + 1:
// all of them) across GPUs in proportion to `proportions` (one per GPU, none
// negative, some positive). A GPU whose share rounds to no layer gets no run.
std::vector<LayerRun> split_layers(int n_layer, int gpu_layers, std::span<const double> proportions);

// Bytes of the matrices of layer l, and of the output matrix.
uint64_t layer_weight_bytes(const model::Model& model, int layer);
uint64_t output_weight_bytes(const model::Model& model);

// The most layers (counted as split_layers counts them, the output one of
// them) whose weights, KV and forward workspace fit in each GPU's memory
// (memory[i] bytes, less a tenth for the driver and staging), split by
// `proportions`: what --gpu-layers defaults to.
int gpu_layers_that_fit(const model::Model& model, const SessionConfig& config, std::span<const uint64_t> memory,
                        std::span<const double> proportions);

// --tensor-split "3,1": one non-negative number per device, some positive;
// throws with a message naming the option otherwise.
std::vector<double> parse_tensor_split(const std::string& text, size_t n_devices);
// --gpu-layers: "all" (n_layer + 1), or a non-negative count.
int parse_gpu_layers(const std::string& text, int n_layer);

// The runs --gpu-layers and --tensor-split ask for (their texts as given; ""
// for the defaults: all layers that fit, split by the devices' memory) over
// these devices, for an engine of `config`'s size. What `run`, `bench` and
// `serve` all place layers by.
std::vector<LayerRun> choose_layer_runs(const model::Model& model, const SessionConfig& config,
                                        std::span<const backend::DeviceInfo> devices, const std::string& gpu_layers,
                                        const std::string& tensor_split);

// A line per run: "layers 0-13 on the CPU (avx2)", "layers 14-27 and the
// output on vulkan0 (llvmpipe, cpu)"; cpu_name is the host backend's.
std::vector<std::string> describe_layer_runs(std::span<const LayerRun> runs,
                                             std::span<const backend::DeviceInfo> devices, const std::string& cpu_name);

}  // namespace hearth::runtime

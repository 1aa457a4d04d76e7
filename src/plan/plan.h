// Memory plans: the exact bytes a model will take at a context, K/V types and
// parallelism, before loading it. Every term mirrors an allocation the engine
// makes (the paths are named next to each), so the plan is a sum of what the
// code allocates, not a rule of thumb:
//   weights  the packed copies the CPU backend makes (with tied embeddings the
//            packed output is a second copy of token_embd), the heap copy of
//            the f32 vectors, and the file pages still read in place (the
//            matrices the backend does not pack, leftover rows): after
//            Model::prepare_weights nothing else of the file is resident (the
//            embedding's rows are read with pread),
//   kv       per layer: rows x (K row bytes + V row bytes) in the cache types,
//            with GQA widths (n_head_kv x head_dim), sliding-window layers
//            at their window when the engine keeps only the window, and the
//            serve engine's pool of 16-row blocks,
//   compute  the forward workspace, the backend's scratch (activations in
//            the dot type, per-thread attention buffers), MoE buffers, logits,
//   overhead the parsed header and metadata, per-thread stacks.
// Heap buffers count as glibc's malloc lays them out (whole pages for the
// large ones), from the buffer lists the engine itself allocates by
// (Model::workspace_shapes, CpuBackend::scratch_sizes).
// For a device (PlanOptions::device, `--devices vulkan0`) the plan is what
// its backend allocates: every tensor at its file size, the KV cache, the
// workspace, block tables, the quantized-activation scratch and the staging
// buffer, each rounded to the device's buffer alignment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"

#include "core/dtype.h"
#include "model/model.h"

namespace hearth::plan {

struct PlanOptions {
  int64_t n_ctx = 0;          // tokens per sequence; 0: min(training context, 4096)
  int n_parallel = 1;         // sequences served together
  // The serve engine (runtime::BatchEngine: a pool of kv_block_size-row
  // blocks) when true; `hearth run`'s single session (n_ctx rows) when false.
  bool paged = true;
  int kv_block_size = 16;
  int64_t n_cache_blocks = 0;  // serve --cache-mb, in blocks
  int64_t n_batch = 512;       // tokens per forward pass (run --ubatch, serve --ubatch)
  DType type_k = DType::F16;
  DType type_v = DType::F16;
  int n_threads = 1;
  // The types the backend packs (cpu_packed_types); runtime::Session and
  // the serve engine both pack them.
  std::vector<DType> packed_types;
  // A plan for a DeviceBackend that keeps the model in its own memory
  // (Vulkan: `--devices vulkan0`) instead of the CPU's: the bytes it
  // allocates, every buffer rounded to device_alignment (DeviceInfo), plus
  // its staging buffer. No packing, no host heap.
  bool device = false;
  uint64_t device_alignment = 256;
  uint64_t device_staging = 16 << 20;
};

// The weight types the CPU backend packs with these kernels (AVX2 or better:
// Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, MXFP4; none for the scalar reference).
std::vector<DType> cpu_packed_types(const cpu::Kernels& kernels);

struct LayerPlan {
  int layer = 0;
  int window = 0;          // sliding window, 0 = global attention
  int64_t kv_rows = 0;     // rows the cache holds for this layer
  uint64_t weights = 0;    // blk.N.* tensors
  uint64_t kv = 0;
};

struct Plan {
  std::string arch, name, file_type;
  int n_layer = 0;
  int64_t n_ctx = 0, n_ctx_train = 0;
  int n_parallel = 1;
  bool paged = true;
  DType type_k = DType::F16, type_v = DType::F16;
  uint64_t weights = 0;         // resident weight bytes (packed copies + mapped file pages)
  uint64_t weights_layers = 0;  // of which blk.* tensors
  uint64_t kv = 0;
  uint64_t compute = 0;
  uint64_t overhead = 0;
  uint64_t total() const { return weights + kv + compute + overhead; }
  int n_sliding = 0;            // layers with a sliding window (they hold only their window)
  std::vector<LayerPlan> layers;
};

// The plan for a loaded (or header-only) model. The model's weights are not
// read: a model loaded from a header alone plans the same.
Plan make_plan(const model::Model& model, const PlanOptions& options);

// The largest context (a multiple of `step`, at most the training context)
// whose plan fits in `budget` bytes; 0 when not even `step` fits.
int64_t fit_context(const model::Model& model, PlanOptions options, uint64_t budget, int64_t step = 256);

// A plan spread over several devices by layers, as a multi-GPU backend would
// (issue 10): each device gets whole layers (weights and KV) in proportion
// to its memory, the first also the token embeddings, the last the output
// head; each holds its own compute buffers.
struct DeviceShare {
  uint64_t capacity = 0;
  int first_layer = 0, n_layers = 0;
  uint64_t weights = 0, kv = 0, compute = 0;
  uint64_t total() const { return weights + kv + compute; }
  bool fits() const { return total() <= capacity; }
};
std::vector<DeviceShare> split_by_layers(const Plan& plan, const std::vector<uint64_t>& capacities);

// "16G", "24GiB", "512M", "1.5T", plain bytes -> bytes. Throws on anything else.
uint64_t parse_memory_size(const std::string& text);

}  // namespace hearth::plan

#include "plan/plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "backend/cpu/packed_blocks.h"
#include "backend/device.h"
#include "backend/ops/cpu_backend.h"
#include "core/error.h"
#include "core/file_type.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"

namespace hearth::plan {
namespace {

// The sliding window of each layer (0 = global), as the architectures use it.
std::vector<int> layer_windows(const model::Model& m) {
  const model::HParams& hp = m.hparams();
  std::vector<int> windows(size_t(hp.n_layer), 0);
  for (int l = 0; l < hp.n_layer; ++l) {
    const bool sliding = m.weights().layers[size_t(l)].sliding || hp.arch == "phi3";  // phi3 slides on every layer
    windows[size_t(l)] = sliding ? hp.sliding_window : 0;
  }
  return windows;
}

// What a heap buffer of `bytes` takes once written. glibc serves requests of
// 128 KiB and more (its default mmap threshold; plan/measure.cpp pins it) as
// mappings of their own, in whole pages with its header and the alignment's
// slack, so a page-sized buffer takes one page more; the arena serves the
// rest with a 16-byte header.
uint64_t heap_bytes(uint64_t bytes) {
  constexpr uint64_t kMmapThreshold = 128 << 10, kPage = 4096, kSlack = 128;
  if (bytes >= kMmapThreshold) return (bytes + kSlack + kPage - 1) / kPage * kPage;
  return (bytes + 16 + 15) / 16 * 16;
}

// A buffer of `size` bytes as the backend allocates it: on the CPU
// (backend::CpuDeviceBackend::alloc) 64-byte aligned and padded on the heap;
// on a device (vulkan::VulkanBackend::create_buffer) whole 32-bit words,
// rounded to the device's buffer alignment.
uint64_t buffer_bytes(const PlanOptions& o, uint64_t size) {
  if (!o.device) return heap_bytes(std::max<uint64_t>(64, (size + 63) / 64 * 64));
  const uint64_t align = std::max<uint64_t>(1, o.device_alignment);
  return (std::max<uint64_t>(4, (size + 3) / 4 * 4) + align - 1) / align * align;
}

uint64_t device_tensor_bytes(const PlanOptions& o, DType type, int64_t n, int64_t rows) {
  return buffer_bytes(o, row_bytes(type, uint64_t(n)) * uint64_t(std::max<int64_t>(rows, 1)));
}

uint64_t workspace_bytes(const model::Model& m, const PlanOptions& o, int64_t rows) {
  uint64_t bytes = 0;
  for (const auto& s : m.workspace_shapes(rows)) bytes += device_tensor_bytes(o, s.type, s.n, s.rows);
  return bytes;
}

// The CPU backend's scratch (CpuBackend::reserve, as the engines call it), and
// moe_ffn's buffers, sized on first use.
uint64_t backend_bytes(const model::Model& m, int64_t rows, int64_t max_ctx, int n_threads) {
  const model::HParams& hp = m.hparams();
  uint64_t bytes = 0;
  for (uint64_t b : backend::CpuBackend::scratch_sizes(std::max(1, n_threads), rows, m.max_row_width(), max_ctx,
                                                       m.max_head_dim())
                        .buffer_bytes())
    bytes += heap_bytes(b);
  if (hp.n_expert > 0) {
    const int64_t n_ff = hp.n_ff_expert > 0 ? hp.n_ff_expert : hp.n_ff[0];
    for (int64_t floats : {rows * hp.n_embd, rows * n_ff, rows * n_ff, rows * int64_t(hp.n_expert_used) * hp.n_embd,
                           rows * int64_t(hp.n_expert_used)})
      bytes += heap_bytes(uint64_t(floats) * 4);
  }
  return bytes;
}

// The parsed header: the mapped header pages, metadata values and tensor infos.
uint64_t header_bytes(const gguf::File& f) {
  uint64_t bytes = 0;  // the header's file pages count with the weights
  for (const auto& [key, value] : f.metadata().entries()) {
    bytes += 64 + key.size();
    if (value.is_array() && value.elem_type() == gguf::ValueType::String) {
      for (const std::string& item : value.strings(key)) bytes += sizeof(std::string) + (item.size() > 15 ? item.size() + 1 : 0);
    } else if (value.is_array()) {
      bytes += value.packed().size() + value.arrays().size() * sizeof(gguf::Value);
    } else if (value.type() == gguf::ValueType::String) {
      bytes += value.as_string(key).size();
    }
  }
  for (const auto& t : f.tensors()) bytes += sizeof(gguf::TensorInfo) + t.name.size() + 64;
  return bytes;
}


// The packed part of each matrix Model::prepare_weights hands the backend:
// whole groups of 8 rows of the types it packs (runtime::Session and the
// serve engine's BatchEngine both prepare the weights), as the file's bytes
// it replaces and the heap bytes of its packed copy.
struct PackedRange {
  const uint8_t* data;
  uint64_t file_bytes, heap_bytes;
};
std::vector<PackedRange> packed_ranges(const model::Model& m, const PlanOptions& o) {
  std::vector<PackedRange> out;
  auto add = [&](const backend::Weight& w) {
    if (w.empty() || w.n_mat != 1 || w.n_out < cpu::kPackRows) return;
    if (std::find(o.packed_types.begin(), o.packed_types.end(), w.type) == o.packed_types.end()) return;
    for (const auto& r : out)
      if (r.data == w.data) return;  // tied: the output is token_embd
    const uint64_t groups = uint64_t(w.n_out / cpu::kPackRows);
    out.push_back({w.data, groups * cpu::kPackRows * w.row_bytes,
                   heap_bytes(groups * cpu::packed_group_bytes(w.type, w.n_in))});
  };
  const model::Weights& w = m.weights();
  add(w.output);
  for (const model::Layer& L : w.layers)
    for (const backend::Weight* x : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) add(*x);
  return out;
}

// Weight bytes resident on the CPU, as Model::prepare_weights leaves them:
// the packed copies and the copy of the f32 vectors (heap), plus the file's
// pages of what is still read in place, the matrices the backend does not
// pack and the rows left over from whole groups of 8. prepare_weights drops
// every page of the file after packing, and the token embedding's rows are
// read with pread (Weight::file), so nothing else of the file comes back:
// the header was parsed into copies, the vectors (the 1-D tensors) are on the
// heap. Only when the output matrix is the embedding and is not packed does
// the output matmul read the embedding in place, all of it.
//
// A fault on a mapped file also maps cached neighbours (Linux fault-around),
// so every range read in place counts to the edges of an aligned window (16
// KiB: what the model mapping's Rss in smaps showed on the fixture models).
uint64_t resident_weight_bytes(const model::Model& m, const PlanOptions& o) {
  constexpr uint64_t kFaultAround = 16 << 10;
  const gguf::File& file = m.file();
  const auto packed = packed_ranges(m, o);
  uint64_t heap = heap_bytes(std::max<uint64_t>(m.vector_copy_bytes(), sizeof(float)));
  for (const auto& r : packed) heap += r.heap_bytes;
  // In-place byte ranges, as [begin, end) in (file index << 48 | offset) space.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  const model::Weights& w = m.weights();
  const bool tied = w.output.data == w.token_embd.data;
  std::vector<uint64_t> file_end(file.n_files(), 0);
  for (const auto& t : file.tensors()) {
    const uint64_t base = (uint64_t(t.file_index) << 48) + (t.file_index == 0 ? file.data_offset() : 0) + t.offset;
    file_end[t.file_index] = std::max<uint64_t>(file_end[t.file_index], base + t.n_bytes);
    if (t.n_dims <= 1) continue;  // a vector, copied
    // An untied embedding is read by pread alone; a tied one is also the
    // output, read in place where the backend did not pack it.
    if (!tied && t.name == "token_embd.weight") continue;
    uint64_t skip = 0;  // the packed prefix, read from the packed copy instead
    for (const auto& r : packed)
      if (r.data == t.data) skip = r.file_bytes;
    if (skip < t.n_bytes) ranges.push_back({base + skip, base + t.n_bytes});
  }
  for (auto& r : ranges) {
    r.first = r.first / kFaultAround * kFaultAround;
    r.second = std::min(file_end[r.first >> 48], (r.second + kFaultAround - 1) / kFaultAround * kFaultAround);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t mapped = 0, end = 0;
  for (const auto& r : ranges) {
    const uint64_t begin = std::max(r.first, end);
    if (r.second > begin) mapped += r.second - begin;
    end = std::max(end, r.second);
  }
  return heap + mapped;
}

}  // namespace

Plan make_plan(const model::Model& m, const PlanOptions& o) {
  const model::HParams& hp = m.hparams();
  const gguf::File& file = m.file();
  Plan p;
  p.arch = hp.arch;
  p.name = file.metadata().get_string_or("general.name", "");
  if (const gguf::Value* ft = file.metadata().find("general.file_type"); ft != nullptr && ft->is_integer())
    p.file_type = file_type_name(ft->as_int("general.file_type"));
  p.n_layer = hp.n_layer;
  p.n_ctx_train = hp.n_ctx_train;
  p.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(hp.n_ctx_train > 0 ? hp.n_ctx_train : 4096, 4096);
  p.n_parallel = o.paged ? std::max(1, o.n_parallel) : 1;
  p.paged = o.paged;
  p.type_k = o.type_k;
  p.type_v = o.type_v;
  if (p.n_ctx <= 0) fail("the context must be positive, got {}", p.n_ctx);
  if (o.n_batch <= 0) fail("the batch must be positive, got {}", o.n_batch);
  const auto k_widths = m.kv_widths_k(), v_widths = m.kv_widths_v();
  for (int l = 0; l < hp.n_layer; ++l) {
    kv::KvCache::check_type(o.type_k, k_widths[size_t(l)], "K");
    kv::KvCache::check_type(o.type_v, v_widths[size_t(l)], "V");
  }

  // Weights: every tensor, by layer where it belongs to one.
  p.layers.resize(size_t(hp.n_layer));
  for (const auto& t : file.tensors()) {
    int layer = -1;
    if (t.name.rfind("blk.", 0) == 0) layer = std::atoi(t.name.c_str() + 4);
    if (layer >= 0 && layer < hp.n_layer) {
      p.layers[size_t(layer)].weights += t.n_bytes;
      p.weights_layers += t.n_bytes;
    }
  }
  if (o.device) {
    // Every tensor uploaded once, at its file size (model::DeviceWeights):
    // matrices as the file lays them out, vectors as their f32 values.
    for (const auto& t : file.tensors()) p.weights += buffer_bytes(o, t.n_bytes);
  } else {
    p.weights = resident_weight_bytes(m, o);
  }

  // KV: runtime::Session holds n_ctx rows; runtime::BatchEngine a pool of
  // n_parallel * ceil(n_ctx / bs) + 1 (+ cache) blocks of bs rows.
  const int64_t bs = o.kv_block_size;
  const int64_t full_rows = o.paged ? (int64_t(p.n_parallel) * ((p.n_ctx + bs - 1) / bs) + 1 + o.n_cache_blocks) * bs
                                    : p.n_ctx;
  const std::vector<int> windows = layer_windows(m);
  int64_t sliding_slot_rows = 0;
  if (o.paged) {
    runtime::BatchEngineConfig engine;
    engine.n_slots = p.n_parallel;
    engine.n_ctx_per_slot = p.n_ctx;
    engine.n_batch = o.n_batch;
    engine.kv_block_size = int(bs);
    engine.type_k = o.type_k;
    engine.type_v = o.type_v;
    sliding_slot_rows = runtime::BatchEngine::slot_kv_memory(m, engine).sliding_rows;
  }
  for (int l = 0; l < hp.n_layer; ++l) {
    LayerPlan& L = p.layers[size_t(l)];
    L.layer = l;
    L.window = windows[size_t(l)];
    if (L.window > 0) ++p.n_sliding;
    L.kv_rows = full_rows;
    if (L.window > 0) {
      // A sliding-window layer holds its window and the tokens of one forward
      // pass, as the engines size it: Session's ring, or BatchEngine's pool
      // of sliding blocks (per slot, plus one, plus the prefix cache's).
      L.kv_rows = o.paged ? (int64_t(p.n_parallel) * (sliding_slot_rows / bs) + 1 + o.n_cache_blocks) * bs
                          : runtime::Session::sliding_rows_for(L.window, p.n_ctx, o.n_batch);
    }
    // One K and one V tensor per layer (kv::KvCache).
    L.kv = device_tensor_bytes(o, o.type_k, k_widths[size_t(l)], L.kv_rows) +
           device_tensor_bytes(o, o.type_v, v_widths[size_t(l)], L.kv_rows);
    p.kv += L.kv;
  }

  // Compute: the workspace and backend scratch for the largest forward pass.
  const int64_t rows = o.paged ? o.n_batch : std::min(o.n_batch, p.n_ctx);
  if (o.device) {
    // The device's own: the workspace, the block tables (model/blocks.cpp's
    // write_tables: one row when every token shares its sequence's table,
    // a row per token of a step with several sequences; the session's
    // sliding ring is one table of ctx entries), the quantized activations
    // the backend reserves for the largest matmul, and its staging buffer.
    // The host keeps only a few arrays, not the device's.
    p.compute = workspace_bytes(m, o, rows);
    const int64_t table_rows = p.n_parallel > 1 ? o.n_batch : 1;
    if (o.paged) {
      const int64_t width = (p.n_ctx + o.kv_block_size - 1) / o.kv_block_size;
      p.compute += device_tensor_bytes(o, DType::I32, width, table_rows) * (p.n_sliding > 0 ? 2 : 1);
    } else if (p.n_sliding > 0) {
      p.compute += device_tensor_bytes(o, DType::I32, p.n_ctx, 1);
    }
    p.compute += buffer_bytes(o, backend::quantized_activation_words(m.max_row_width(), rows) * 4);
    p.compute += buffer_bytes(o, o.device_staging);
    return p;
  }
  p.compute = workspace_bytes(m, o, rows) + backend_bytes(m, rows, p.n_ctx, o.n_threads);
  const uint64_t logits_row = uint64_t(hp.n_vocab) * 4;
  if (o.paged) {
    const int64_t n_blocks = full_rows / bs;
    const int64_t blocks_per_slot = (p.n_ctx + bs - 1) / bs;
    p.compute += uint64_t(p.n_parallel) * (uint64_t(blocks_per_slot) * 4 + 16 + uint64_t(p.n_ctx) * 4);  // tables, tokens held
    p.compute += uint64_t(o.n_batch) * (4 + 4 + 4 + 8) + uint64_t(n_blocks) * 8;  // step arrays, block pool
    p.compute += logits_row * uint64_t(p.n_parallel);                            // one logits row per slot
  } else {
    p.compute += uint64_t(rows) * 8 + 2 * logits_row;  // positions, output rows; the session's and caller's logits
  }
  // Overhead: the parsed header, and the worker threads' stacks as far as
  // they are touched (12 KiB each measured in smaps on the fixture models;
  // the kernels keep their scratch on the heap, not the stack).
  constexpr uint64_t kTouchedStack = 16 << 10;
  p.overhead = header_bytes(file) + uint64_t(std::max(0, o.n_threads - 1)) * kTouchedStack;
  return p;
}

std::vector<DType> cpu_packed_types(const cpu::Kernels& kernels) {
  std::vector<DType> out;
  for (uint32_t id = 0; id < kDTypeIdLimit; ++id)
    if (const auto info = dtype_info(id); info && kernels.packed_gemm_for(info->type) != nullptr)
      out.push_back(info->type);
  return out;
}

int64_t fit_context(const model::Model& m, PlanOptions o, uint64_t budget, int64_t step) {
  const int64_t limit = m.hparams().n_ctx_train > 0 ? m.hparams().n_ctx_train : 131072;
  int64_t lo = 0, hi = limit / step;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    o.n_ctx = mid * step;
    if (make_plan(m, o).total() <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo * step;
}

std::vector<DeviceShare> split_by_layers(const Plan& p, const std::vector<uint64_t>& capacities) {
  if (capacities.empty()) fail("no devices to split the model over");
  std::vector<DeviceShare> devices(capacities.size());
  uint64_t capacity_sum = 0;
  for (size_t d = 0; d < capacities.size(); ++d) {
    devices[d].capacity = capacities[d];
    capacity_sum += capacities[d];
  }
  // Each device holds its own compute buffers and overhead.
  for (auto& d : devices) d.compute = p.compute + p.overhead;
  devices.front().weights += p.weights - p.weights_layers;  // embeddings and output head (first and last)
  uint64_t layer_sum = 0;
  for (const auto& L : p.layers) layer_sum += L.weights + L.kv;
  // Layers in order; a device takes them until its share of the layer bytes is reached.
  size_t d = 0;
  uint64_t taken = 0, cumulative_capacity = capacities[0];
  for (const auto& L : p.layers) {
    while (d + 1 < devices.size() &&
           double(taken) >= double(layer_sum) * double(cumulative_capacity) / double(capacity_sum)) {
      ++d;
      devices[d].first_layer = L.layer;
      cumulative_capacity += capacities[d];
    }
    devices[d].weights += L.weights;
    devices[d].kv += L.kv;
    devices[d].n_layers += 1;
    taken += L.weights + L.kv;
  }
  return devices;
}

uint64_t parse_memory_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    fail("'{}' is not a memory size (use e.g. 16G, 24GiB, 512M)", text);
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") fail("'{}' is not a memory size (use e.g. 16G, 24GiB, 512M)", text);
  if (value <= 0) fail("memory size '{}' must be positive", text);
  return uint64_t(value * scale);
}

}  // namespace hearth::plan

// The device-resident op interface (see docs/device-backend.md).
//
// Beside backend.h's host-pointer Backend (which model code still calls), a
// DeviceBackend owns its memory and is driven by handles: weights are
// uploaded once, activations and the KV cache live in device buffers, ops are
// recorded in order and run when the caller syncs, and only what the caller
// reads back (the needed logits rows) crosses to the host. Model code will
// hold DeviceTensors and call these ops without naming a device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"

namespace hearth::backend {

// ---------------------------------------------------------------- devices

enum class DeviceKind { DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other };
std::string_view device_kind_name(DeviceKind kind);  // "discrete", "integrated", "virtual", "cpu", "other"

// What a device can do that the kernels care about; each has a portable
// fallback when absent.
struct DeviceFeatures {
  bool fp16_arithmetic = false;     // shaderFloat16
  bool int8_arithmetic = false;     // shaderInt8
  bool storage_16bit = false;       // 16-bit loads/stores from storage buffers
  bool storage_8bit = false;
  bool int8_dot_product = false;    // VK_KHR_shader_integer_dot_product, accelerated
  bool cooperative_matrix = false;  // VK_KHR_cooperative_matrix
  uint32_t subgroup_size = 0;
  uint64_t max_buffer_range = 0;    // largest storage buffer one binding can see
  uint32_t max_shared_memory = 0;   // per workgroup
};

struct DeviceInfo {
  std::string id;        // "vulkan0", "vulkan1", ... in the API's enumeration order
  std::string name;      // as the driver reports it
  DeviceKind kind = DeviceKind::Other;
  uint64_t memory_bytes = 0;  // device-local heap(s)
  // What one buffer's memory is rounded to (VkMemoryRequirements alignment),
  // as the backend found it; 0 until a backend for the device is made.
  uint64_t buffer_alignment = 0;
  uint64_t staging_bytes = 0;  // the host-visible staging buffer it keeps for transfers
  std::string api_version;
  std::string driver;
  DeviceFeatures features;
};

// Which devices to run on. `spec` is "" (the default: every discrete and
// integrated GPU; CPU-type devices such as lavapipe only when named), or a
// comma-separated list of ids ("vulkan0,vulkan1"), or "none" / "cpu" for
// none. A device named twice is selected twice: opened as two logical
// devices, a layer split on one GPU (how tests split across two devices on
// lavapipe). On failure `devices` is empty and `why` says why in one line.
struct DeviceSelection {
  std::vector<DeviceInfo> devices;
  std::string why;
};
DeviceSelection select_devices(const std::vector<DeviceInfo>& available, const std::string& spec);

// ---------------------------------------------------------------- tensors

// A tensor owned by a DeviceBackend: rows of n elements of `type`, row_bytes
// apart, starting `offset` bytes into one of the backend's buffers. A plain
// value: copying it copies the handle, not the data; views (row ranges,
// strided halves of a fused projection) are handles to the same buffer.
struct DeviceTensor {
  uint32_t buffer = 0;   // the backend's buffer id; 0 = no tensor
  uint64_t offset = 0;   // bytes
  DType type = DType::F32;
  int64_t n = 0;         // elements per row
  int64_t rows = 0;
  uint64_t row_bytes = 0;

  bool empty() const { return buffer == 0; }
  uint64_t bytes() const { return rows == 0 ? 0 : (rows - 1) * row_bytes + hearth::row_bytes(type, n); }
  bool contiguous() const { return row_bytes == hearth::row_bytes(type, n); }
  DeviceTensor row_range(int64_t first, int64_t count) const {
    DeviceTensor t = *this;
    t.offset += uint64_t(first) * row_bytes;
    t.rows = count;
    return t;
  }
  // Elements [first, first + count) of every row (a whole number of blocks).
  DeviceTensor columns(int64_t first, int64_t count) const {
    DeviceTensor t = *this;
    t.offset += hearth::row_bytes(type, first);
    t.n = count;
    return t;
  }
};

// RopeParams with the position and frequency-factor inputs on the device.
struct DeviceRope {
  RopeParams params;          // params.freq_factors is ignored: see freq_factors
  DeviceTensor freq_factors;  // F32, n_dims/2 values, or empty
};

// Where a batch's new K/V rows go in a paged cache: token i's row is
// (block_tables[i][positions[i] >> shift] << shift) | (positions[i] & mask),
// computed on the device (no host round trip for the slot list).
struct DeviceKvSlots {
  DeviceTensor positions;     // I32, one per token
  DeviceTensor block_tables;  // I32 [n_tokens][max_blocks]
  int kv_block_shift = 0;
};

// Attention over a layer's K and V cache tensors (rows of n_head_kv *
// head_dim elements), with the semantics of AttentionParams: fused with an
// online softmax (flash), or ggml's unfused form (the probabilities rounded
// to f16 before they weight V).
struct DeviceAttention : AttentionShape {
  DeviceTensor q;             // F32 [n_tokens][n_head * head_dim]
  DeviceTensor positions;     // I32, one per token
  // I32 [n_tokens][max_blocks]: row i is token i's block table (the cache is
  // paged in blocks of 2^kv_block_shift rows); empty: key j at cache row j.
  DeviceTensor block_tables;
  int kv_block_shift = 0;
  DeviceTensor k, v;          // the caches (F32, F16, BF16, Q8_0, Q4_0)
  // I32, the last position each token sees (an image's tokens see the whole
  // image), or empty: its own.
  DeviceTensor last_visible;
  DeviceTensor sinks;         // F32 [n_head], gpt-oss's sink logits, or empty
  DeviceTensor out;           // F32 [n_tokens][n_head * head_dim]
};

// How moe_route turns router logits into experts and weights.
enum class MoeGating {
  Softmax,            // softmax over all experts, top-k of the probabilities (Mixtral, Qwen3-MoE)
  SoftmaxNormalized,  // the same, the k weights renormalised to sum 1
  SoftmaxOfTopK,      // top-k of the logits, softmax over those k (gpt-oss)
};

// A mixture-of-experts FFN (silu gate) with the routing already on the
// device (moe_route): out[r] = sum over slots k of weights[r][k] *
// down_e(silu(gate_e(x[r])) * up_e(x[r])), e = ids[r][k], summed in slot order.
struct DeviceMoe {
  DeviceTensor x;             // F32 [rows][n_embd]
  DeviceTensor ids;           // I32 [rows][n_used]
  DeviceTensor weights;       // F32 [rows][n_used]
  DeviceTensor gate, up, down;  // stacks of n_expert matrices (rows = n_expert * n_out)
  int n_expert = 0;
  // Per-expert biases after each projection (gpt-oss), or empty: F32
  // [n_expert * n_ff] for gate and up, [n_expert * n_embd] for down.
  DeviceTensor gate_b, up_b, down_b;
  Activation activation = Activation::Silu;  // or gpt-oss's SwigluOai
  DeviceTensor out;           // F32 [rows][n_embd]
};

// How many times the host and the device met: what "no host round trip per
// op" is measured by.
struct DeviceCounters {
  uint64_t submits = 0;        // queue submissions
  uint64_t waits = 0;          // host waits for the device
  uint64_t uploads = 0;        // host -> device copies recorded
  uint64_t downloads = 0;      // device -> host copies recorded
  uint64_t dispatches = 0;     // compute dispatches recorded
  uint64_t upload_bytes = 0;
  uint64_t download_bytes = 0;
  // Device memory the backend holds now (every buffer, staging included, at
  // the size it was allocated), and the most it held at once: what `hearth
  // plan` predicts for a device. Backends that use host memory report 0.
  uint64_t allocated_bytes = 0;
  uint64_t peak_allocated_bytes = 0;
};

// The 32-bit words a device's quantized copy of `rows` activation rows of n
// takes (Q8_0/Q8_1: 10 per 32 elements; Q8_K: 81 per 256), the larger of
// the two layouts: the Vulkan backend's matmul scratch, reserved at this
// size for the largest step (and counted so by `hearth plan`).
inline uint64_t quantized_activation_words(int64_t n, int64_t rows) {
  const uint64_t per_row = uint64_t(n) / 256 * 81 > uint64_t(n) / 32 * 10 ? uint64_t(n) / 256 * 81 : uint64_t(n) / 32 * 10;
  return per_row * uint64_t(rows > 1 ? rows : 1);
}

// ---------------------------------------------------------------- ops

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual const DeviceInfo& info() const = 0;

  // Memory. A tensor of `rows` rows of n elements, contiguous. Freed with
  // free(), or with the backend.
  virtual DeviceTensor alloc(DType type, int64_t n, int64_t rows) = 0;
  virtual void free(const DeviceTensor& t) = 0;
  // A weight (or a stack of them) copied to the device (done at load time).
  virtual DeviceTensor upload_weight(const Weight& w) = 0;
  // Sizes the backend's own scratch once for the largest step a session
  // makes (as Backend::reserve); only grows. Devices without host scratch
  // ignore it.
  virtual void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) {}

  // Transfers, recorded in order with the ops. write() copies `src` (t.bytes()
  // bytes, t contiguous) at the call, so the caller may reuse it at once;
  // read() fills `dst` during the next sync().
  virtual void write(const DeviceTensor& dst, const void* src) = 0;
  virtual void read(const DeviceTensor& src, void* dst) = 0;

  // Runs everything recorded since the last sync, as one submission, and
  // waits for it; reads are complete when it returns.
  virtual void sync() = 0;
  virtual DeviceCounters counters() const = 0;

  // Ops, recorded; every tensor is a device handle. Row counts come from the
  // output (or the input for in-place ops). Float activations are F32.

  // y[r][o] = sum_i x[r][i] * w[o][i]; quantized weights see x quantized to
  // their dot-product type (Q8_0, Q8_1, Q8_K, f16, bf16), as ggml does.
  virtual void matmul(const DeviceTensor& w, const DeviceTensor& x, const DeviceTensor& y) = 0;
  // out[i] = row ids[i] of the table (ids: I32), as f32.
  virtual void get_rows(const DeviceTensor& table, const DeviceTensor& ids, const DeviceTensor& out) = 0;
  // y[r] = x[r] / rms(x[r]) * weight (weight may be empty). In place is fine.
  virtual void rms_norm(const DeviceTensor& x, const DeviceTensor& weight, float eps, const DeviceTensor& y) = 0;
  // Rotates each of n_heads heads of each row of x in place by its row's
  // position (positions: I32, one per row).
  virtual void rope(const DeviceTensor& x, int n_heads, int head_dim, const DeviceTensor& positions,
                    const DeviceRope& rope) = 0;
  // Converts the f32 rows of src into rows [first_row, first_row + rows) of a
  // KV cache tensor of its own type (F32, F16, BF16, Q8_0, Q4_0).
  virtual void store_kv(const DeviceTensor& src, const DeviceTensor& cache, int64_t first_row) = 0;
  // The same into a paged cache, each row to its token's slot.
  virtual void store_kv_paged(const DeviceTensor& src, const DeviceTensor& cache, const DeviceKvSlots& slots) = 0;
  virtual void attention(const DeviceAttention& params) = 0;
  // MoE routing: per row of router logits [rows][n_expert], the softmax, the
  // n_used most probable experts (ties to the lower index) into ids (I32
  // [rows][n_used]) and their probabilities into weights, renormalized to
  // sum to one (SoftmaxNormalized); or the n_used largest logits and the
  // softmax of just those (SoftmaxOfTopK).
  virtual void moe_route(const DeviceTensor& logits, int n_used, MoeGating gating, const DeviceTensor& ids,
                         const DeviceTensor& weights) = 0;
  virtual void moe_ffn(const DeviceMoe& params) = 0;
  // out[r] = act(gate[r]) * up[r] (gate and up may be strided views).
  virtual void gated_activation(Activation act, const DeviceTensor& gate, const DeviceTensor& up,
                                const DeviceTensor& out) = 0;
  // Each consecutive block of `block` values (a power of two dividing the
  // row) times the orthonormal Sylvester-Hadamard matrix, in place.
  virtual void hadamard(const DeviceTensor& x, int block) = 0;
  virtual void add(const DeviceTensor& y, const DeviceTensor& x) = 0;         // y += x
  virtual void add_rows(const DeviceTensor& y, const DeviceTensor& bias) = 0;  // y[r] += bias
  virtual void scale(const DeviceTensor& y, float s) = 0;                      // y *= s
  virtual void softcap(const DeviceTensor& y, float cap) = 0;                  // y = cap * tanh(y / cap)
  // dst = src, row by row (same type and shape; views of either). A KV
  // block's rows copied for a shared prefix, Q/K/V out of a fused QKV.
  virtual void copy_rows(const DeviceTensor& src, const DeviceTensor& dst) = 0;

  // Encoder ops (BERT): LayerNorm with optional weight and bias (in place is
  // fine), and an ungated activation (GELU as ggml's f16 table).
  virtual void layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps,
                          const DeviceTensor& y) = 0;
  virtual void activation(Activation act, const DeviceTensor& x, const DeviceTensor& y) = 0;
};

// The CPU as a DeviceBackend (beside backend.h's make_cpu_backend, with the
// same kernels, threads and `isa`): tensors in host memory, each op run at
// the call by the host CPU backend's code, so its results are that backend's
// bit for bit; sync() is a no-op (submits and waits stay 0). Weights are used
// in place, not copied: keep their bytes alive while the tensor is.
std::unique_ptr<DeviceBackend> make_cpu_device_backend(int n_threads, const std::string& isa = "");
// The same over a host Backend the caller owns (any: the CPU one, the scalar
// reference), sharing its threads and scratch; its ops are that backend's.
// Weights are used in place with the packed layout the Model gave them
// (Model::prepare_weights), never packed again.
std::unique_ptr<DeviceBackend> make_host_device_backend(Backend& host);

}  // namespace hearth::backend

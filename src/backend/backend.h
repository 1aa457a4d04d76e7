// The narrow op interface model code calls. Model code never names a device:
// it holds a Backend and calls these ops on f32 activations (row-major
// [rows][n]) and on weights and KV rows in their stored types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/dtype.h"

namespace hearth {
class MappedFile;
}

namespace hearth::backend {

// A weight matrix, or a stack of them, as stored in the file: n_out rows of
// n_in elements (ggml: ne0 = n_in, ne1 = n_out, ne2 = n_mat).
struct Weight {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
  int64_t n_mat = 1;
  size_t row_bytes = 0;
  // The same matrix in a layout of the backend's own (Backend::pack), or
  // null. Owned by whoever asked for it (the Model); the backend uses it when
  // it knows the layout and reads `data` otherwise.
  const uint8_t* packed = nullptr;
  // The mapped file `data` lies in, when rows are to be read from it with
  // pread instead of through the mapping (MappedFile::read): set by the Model
  // on the token embedding, which get_rows reads a row per token, so that
  // its pages never become resident. Null: read `data` in place.
  const MappedFile* file = nullptr;

  bool empty() const { return data == nullptr; }
  const uint8_t* row(int64_t r) const { return data + r * row_bytes; }
  Weight matrix(int64_t index) const {  // one matrix of a stack
    Weight w = *this;
    w.data = data + index * n_out * row_bytes;
    w.n_mat = 1;
    w.packed = nullptr;
    return w;
  }
};

struct RopeParams {
  enum class Mode { Norm, Neox };  // rotate (x[2i], x[2i+1]) or (x[i], x[i + n_dims/2])
  Mode mode = Mode::Norm;
  int n_dims = 0;  // rotated dims per head; the rest pass through
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  const float* freq_factors = nullptr;  // n_dims/2 frequency divisors (llama3 rope_freqs), or null
  // YaRN (ext_factor 0 = off).
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int n_ctx_orig = 0;
};

// One layer's K or V cache: row i holds the key (value) of position i,
// n_head_kv * head_dim elements of `type`.
struct KvView {
  DType type = DType::F16;
  uint8_t* data = nullptr;
  size_t row_bytes = 0;
};

// What an attention op computes, whatever holds its tensors: shared by the
// host form (AttentionParams) and the device form (DeviceAttention), so that
// one converts to the other in a single assignment.
struct AttentionShape {
  int64_t n_kv = 0;                   // keys at positions [0, n_kv) are valid (per sequence)
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  float scale = 1.0f;                 // multiplies q.k
  float softcap = 0.0f;               // gemma2: s = softcap * tanh(s / softcap), 0 = off
  int sliding_window = 0;             // 0 = none; else a query at p sees keys p' with p - p' < window
  bool flash = false;                 // fused online softmax (reads quantized K/V directly); else ggml's unfused form
  bool causal = true;                 // false (encoders): every token sees all n_kv keys
};

struct AttentionParams : AttentionShape {
  const float* q = nullptr;           // [n_tokens][n_head * head_dim]
  const int32_t* positions = nullptr; // position of each query token
  // The last position each query token sees, or null: its own (causal).
  // Larger for tokens of an image that attend to the whole image (gemma3).
  const int32_t* last_visible = nullptr;
  // Where each query token's keys live. Null: one sequence, key j at KV row j.
  // Otherwise the cache is paged in blocks of 2^kv_block_shift rows and key j
  // of token i is at row (block_tables[i][j >> shift] << shift) | (j & mask):
  // block_tables[i] is the block table of token i's sequence.
  const int32_t* const* block_tables = nullptr;
  int kv_block_shift = 0;
  int64_t n_tokens = 0;
  KvView k, v;
  // gpt-oss's attention sinks: one learned logit per query head, or null. It
  // joins each softmax as a key with no value: probabilities become
  // exp(s_j - m) / (sum_j exp(s_j - m) + exp(sink - m)), m the max of both.
  const float* sinks = nullptr;       // [n_head]
  float* out = nullptr;               // [n_tokens][n_head * head_dim]
};

// SwigluOai is gpt-oss's gated unit (ggml_swiglu_oai with alpha 1.702 and
// limit 7): g = min(gate, 7), u = clamp(up, -7, 7), out = g * sigmoid(1.702 g)
// * (u + 1). It is gated only (gated_activation, moe_ffn).
enum class Activation { Silu, GeluTanh, SwigluOai };

struct MoeParams {
  const float* x = nullptr;           // [rows][n_embd]
  int64_t rows = 0;
  const int32_t* expert_ids = nullptr;  // [rows][n_used]
  const float* expert_weights = nullptr;  // [rows][n_used]
  int n_used = 0;
  Weight gate, up, down;              // stacks of n_expert matrices
  // Per-expert biases added after each projection (gpt-oss), or null:
  // gate_b/up_b [n_expert][n_ff], down_b [n_expert][n_embd].
  const float *gate_b = nullptr, *up_b = nullptr, *down_b = nullptr;
  Activation activation = Activation::Silu;  // SwiGLU, or gpt-oss's SwigluOai
  float* out = nullptr;               // [rows][n_embd], overwritten
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int n_threads() const = 0;

  // Sizes every scratch buffer once, for the largest call the model makes:
  // max_rows activation rows of at most max_n elements, attention over at
  // most max_ctx keys with heads of head_dim. Ops never allocate afterwards.
  // Reservations only grow, so sessions sharing a backend each stay covered.
  virtual void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) = 0;

  // The weight rearranged for this backend's matmul (the CPU one packs eight
  // rows together for its SIMD kernels), or null when it has no better
  // layout. The caller keeps the buffer alive and sets Weight::packed.
  virtual std::shared_ptr<const uint8_t[]> pack(const Weight&) { return nullptr; }

  // y[r][o] = sum_i x[r][i] * w[o][i]; x is [rows][w.n_in], y is [rows][w.n_out].
  // Quantized weights see x quantized to their dot-product type, as ggml does.
  virtual void matmul(const Weight& w, const float* x, int64_t rows, float* y) = 0;
  // out[i] = row ids[i] of the table, as f32.
  virtual void get_rows(const Weight& table, const int32_t* ids, int64_t n, float* out) = 0;
  // y[r] = x[r] / rms(x[r]) * weight; weight may be null. In place is fine.
  virtual void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* y) = 0;
  // Rotates each of n_heads heads of each row by its token's position.
  virtual void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
                    const RopeParams& params) = 0;
  // Converts rows of f32 into KV rows at [first_row, first_row + rows).
  virtual void store_kv(const float* src, int64_t rows, int64_t n, KvView dst, int64_t first_row) = 0;
  virtual void attention(const AttentionParams& params) = 0;
  // out[r] = act(gate[r]) * up[r] over n elements; gate/up rows are `stride` apart.
  virtual void gated_activation(Activation act, const float* gate, const float* up, int64_t stride, int64_t rows,
                                int64_t n, float* out) = 0;
  virtual void moe_ffn(const MoeParams& params) = 0;

  // Multiplies each consecutive block of `block` values (a power of two) by
  // the orthonormal Sylvester-Hadamard matrix H/sqrt(block), in place. H is
  // symmetric and its own inverse, so applying it twice restores x.
  virtual void hadamard(float* x, int64_t n_values, int block) = 0;

  // Element-wise helpers.
  virtual void add(float* y, const float* x, int64_t n) = 0;                           // y += x
  virtual void add_rows(float* y, const float* bias, int64_t rows, int64_t n) = 0;     // y[r] += bias
  virtual void scale(float* y, float s, int64_t n) = 0;                                // y *= s
  virtual void softcap(float* y, float cap, int64_t n) = 0;                            // y = cap * tanh(y / cap)

  // Encoder ops (src/vision, and BERT's LayerNorm and FFN). Backends without
  // them refuse those models.
  // y[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias (ggml_norm, then
  // the mul and add); weight and bias may be null. In place is fine.
  virtual void layer_norm(const float*, const float*, const float*, int64_t, int64_t, float, float*) {
    throw std::runtime_error("backend " + name() + " has no layer_norm (the vision encoder needs it)");
  }
  // y = act(x) over n values, as ggml's unary op (GELU: its f16 table). In place is fine.
  virtual void activation(Activation, const float*, int64_t, float*) {
    throw std::runtime_error("backend " + name() + " has no activation op (the vision encoder needs it)");
  }
  // Average pooling of a width x height grid of rows of `channels` values
  // (row y * width + x) in kernel x kernel windows, stride kernel, no padding:
  // y gets (width / kernel) * (height / kernel) rows.
  virtual void avg_pool_2d(const float*, int64_t, int64_t, int64_t, int, float*) {
    throw std::runtime_error("backend " + name() + " has no avg_pool_2d (the vision encoder needs it)");
  }
};

// The scalar reference: one thread, the ref kernels. Obviously correct, slow.
std::unique_ptr<Backend> make_ref_backend();
// The CPU backend: the best SIMD kernels this CPU has (chosen from CPUID), on
// n_threads threads. `isa` forces "scalar", "avx2" or "avx512" (for tests).
std::unique_ptr<Backend> make_cpu_backend(int n_threads, const std::string& isa = "");

}  // namespace hearth::backend

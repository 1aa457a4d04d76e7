// A loaded model: hyper-parameters from the GGUF keys, weights as views into
// the mapped file, and the forward function of its architecture. The forward
// runs on a DeviceBackend (docs/device-backend.md): the weights uploaded once
// (DeviceWeights), the activations in a Workspace of device tensors, the KV
// cache on the device; only the needed logits rows come back.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"

namespace hearth::model {

using backend::Weight;

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int n_layer = 0;
  std::vector<int> n_head, n_head_kv;  // per layer
  std::vector<int64_t> n_ff;           // per layer
  int head_dim_k = 0, head_dim_v = 0;
  float rms_eps = 1e-5f;
  backend::RopeParams rope;            // the global layers' rope
  float rope_base_swa = 0.0f;          // local layers' base where it differs (gemma3)
  int sliding_window = 0;
  float attn_softcap = 0.0f, final_softcap = 0.0f;
  int n_expert = 0, n_expert_used = 0;
  int64_t n_ff_expert = 0;
  // Encoders (bert, nomic-bert): attention sees the whole sequence, and the
  // forward writes each output row's final hidden state ([n_outputs][n_embd])
  // instead of logits. pooling is {arch}.pooling_type (llama.cpp's numbering:
  // 0 none, 1 mean, 2 cls, 3 last).
  bool encoder = false;
  int pooling = 0;
};

// One layer's weights; absent ones are empty / null.
struct Layer {
  const float* attn_norm = nullptr;
  Weight wq, wk, wv, wqkv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;
  const float* post_attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  Weight ffn_gate, ffn_up, ffn_down;
  const float* post_ffn_norm = nullptr;
  Weight ffn_gate_inp, gate_exps, up_exps, down_exps;
  // gpt-oss: router bias [n_expert], per-expert biases ([n_expert][n_ff] for
  // gate and up, [n_expert][n_embd] for down), per-head attention sinks.
  const float *ffn_gate_inp_b = nullptr, *gate_exps_b = nullptr, *up_exps_b = nullptr, *down_exps_b = nullptr;
  const float* attn_sinks = nullptr;  // [n_head]
  // BitNet's sub-norms: RMS norms of the attention output before wo
  // ([n_head * head_dim_v]) and of the gated FFN before ffn_down ([n_ff]).
  const float *attn_sub_norm = nullptr, *ffn_sub_norm = nullptr;
  bool sliding = false;  // uses the sliding window (local attention)
  // BERT's post-norm block: LayerNorms with biases after attention and after
  // the FFN, and biases on the output and FFN projections.
  const float *bo = nullptr, *ffn_up_b = nullptr, *ffn_down_b = nullptr;
  const float *attn_out_norm = nullptr, *attn_out_norm_b = nullptr;
  const float *layer_out_norm = nullptr, *layer_out_norm_b = nullptr;
};

struct Weights {
  Weight token_embd, output;  // output is token_embd when tied
  const float* output_norm = nullptr;
  const float* rope_freqs = nullptr;
  Weight pos_embd, token_types;  // BERT's learned positions and token-type rows
  const float *embd_norm = nullptr, *embd_norm_b = nullptr;
  std::vector<Layer> layers;
};

// The forward pass's activations: device tensors allocated once for the
// largest micro-batch (each a buffer of max_rows rows of its widest use;
// blocks.cpp views them as [n][width] of the layer at hand), and the batch
// inputs written at the start of every forward. Freed with the workspace.
struct Workspace {
  backend::DeviceBackend* dev = nullptr;
  int64_t max_rows = 0;
  int64_t logit_rows = 0;  // logits rows per lm-head chunk
  backend::DeviceTensor x, xn, q, k, v, attn, proj, ffn_a, ffn_b, qkv, router, expert_ids, expert_weights, logits;
  // Inputs (I32, one per row): token ids, positions, last visible positions,
  // the rows whose logits are read, and the constant 0 (BERT's token type);
  // block tables [rows][width] for the global and the sliding layers (grown
  // on first use to the widest table).
  backend::DeviceTensor tokens, positions, last_visible, output_rows, zero_id, tables, swa_tables;
  backend::DeviceTensor step_tables, step_swa_tables;  // this step's views of tables / swa_tables (or empty)
  std::vector<int32_t> host_tables;  // flattening scratch, grown to the largest step
  std::vector<float> host_rows;      // a split's residual rows on their way here, grown likewise

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace(Workspace&& other) noexcept { *this = std::move(other); }
  Workspace& operator=(Workspace&& other) noexcept;
  ~Workspace();
};

// A model's weights on one DeviceBackend, uploaded on first use (the CPU
// DeviceBackend uses the mapped file's bytes in place, with the packed layout
// Model::prepare_weights gave them) and freed with this object.
class DeviceWeights {
 public:
  explicit DeviceWeights(backend::DeviceBackend& dev) : dev_(dev) {}
  DeviceWeights(const DeviceWeights&) = delete;
  DeviceWeights& operator=(const DeviceWeights&) = delete;
  ~DeviceWeights();
  // A matrix (or a stack of them).
  backend::DeviceTensor matrix(const Weight& w);
  // n f32 values (a norm weight, a bias), or an empty tensor for null.
  backend::DeviceTensor vector(const float* values, int64_t n);

 private:
  backend::DeviceBackend& dev_;
  std::map<std::pair<const void*, const void*>, backend::DeviceTensor> uploaded_;  // (data, packed) -> tensor
};

struct Batch {
  const int32_t* tokens = nullptr;
  const int32_t* positions = nullptr;  // each token's position in its own sequence
  // Several sequences in one batch: the KV cache is paged in blocks of
  // 2^kv_block_shift rows and block_tables[i] is the block table of token i's
  // sequence (see backend::AttentionParams), table_width entries. Null: one
  // sequence at row 0.
  const int32_t* const* block_tables = nullptr;
  int kv_block_shift = 0;
  int64_t table_width = 0;
  // Sliding-window layers, whose KV holds only the window: their own block
  // tables (same format, blocks of 2^swa_kv_block_shift rows). Null: they
  // use block_tables as the global layers do.
  const int32_t* const* swa_block_tables = nullptr;
  int swa_kv_block_shift = 0;
  int64_t swa_table_width = 0;
  int64_t n = 0;
  // Rows whose logits are wanted, ascending; logits_out gets them in order.
  const int32_t* output_rows = nullptr;
  int64_t n_outputs = 0;
  // Keys visible to the batch: positions below n_kv (the longest sequence).
  int64_t n_kv = 0;
  // Input rows given as embeddings (an image's tokens): where embeddings[i]
  // is not null, row i is those n_embd floats and tokens[i] is ignored; such
  // rows skip the token-embedding scale (gemma). Null: every row from its id.
  const float* const* embeddings = nullptr;
  // The last position each token attends to; null: its own (causal). The
  // tokens of an image see the whole image (gemma3, as llama.cpp's mtmd).
  const int32_t* last_visible = nullptr;
};

// One device's share of a forward pass. Alone, it runs every layer; in a
// split (Model::forward over a list of them) it runs layers [first_layer,
// end_layer): the part with layer 0 embeds the tokens, the part with `output`
// runs the output (lm head), and the residual rows cross from one part to the
// next at the boundary. Architectures see only this: never which device.
struct ForwardContext {
  backend::DeviceBackend& dev;
  DeviceWeights& weights;  // the model's, on dev
  kv::KvCache& kv;         // on dev; holds (at least) this part's layers
  Workspace& ws;           // on dev
  bool flash_attn = false;
  int first_layer = 0;
  int end_layer = -1;      // -1: through the last layer
  bool output = true;      // runs the output layer (the last part)
};

// Where a run of consecutive layers runs: layers [first_layer, end_layer) on
// dev. A split is a list of these in layer order covering every layer once;
// the last one also runs the output, and its range is empty when the output
// alone is on its device (as llama.cpp places it with -ngl 1).
struct LayerPlacement {
  backend::DeviceBackend* dev = nullptr;
  int first_layer = 0;
  int end_layer = 0;
};

class Model;
using ForwardFn = void (*)(const Model& model, ForwardContext& ctx, const Batch& batch, float* logits_out);

class Model {
 public:
  // Loads the architecture named by general.architecture; throws, listing the
  // supported ones, when it is unknown.
  static std::unique_ptr<Model> load(std::shared_ptr<const gguf::File> file);

  const HParams& hparams() const { return hparams_; }
  const Weights& weights() const { return weights_; }
  const gguf::File& file() const { return *file_; }

  // Writes the batch's inputs to the device, records the architecture's
  // forward, reads the logits of the output rows into logits_out
  // ([n_outputs][n_vocab]; encoders: hidden states [n_outputs][n_embd]) and
  // syncs once.
  void forward(ForwardContext& ctx, const Batch& batch, float* logits_out) const;
  // The same across devices: each part in turn on its own device, its inputs
  // written there; at each boundary the residual rows ([n][n_embd]) are read
  // back, the part synced, and written to the next part's device: one
  // transfer each way per boundary, and one sync per part.
  void forward(std::span<ForwardContext> parts, const Batch& batch, float* logits_out) const;
  // With_logits false: a part of a split that does not run the output (no
  // [rows][n_vocab] logits buffer on its device).
  Workspace make_workspace(backend::DeviceBackend& dev, int64_t max_rows, bool with_logits = true) const;
  // The buffers make_workspace allocates, in its order: what `hearth plan`
  // counts as the workspace.
  struct BufferShape {
    DType type;
    int64_t n, rows;
  };
  std::vector<BufferShape> workspace_shapes(int64_t max_rows, bool with_logits = true) const;
  std::vector<int64_t> kv_widths_k() const;
  std::vector<int64_t> kv_widths_v() const;
  // Whether layer l attends through the sliding window (its KV then needs
  // only the window), and whether any layer does.
  bool layer_sliding(int l) const { return weights_.layers[size_t(l)].sliding; }
  bool has_sliding_layers() const;
  // KV rows of every layer when global layers hold global_rows and sliding
  // ones sliding_rows.
  std::vector<int64_t> kv_rows(int64_t global_rows, int64_t sliding_rows) const;
  int max_head_dim() const { return std::max(hparams_.head_dim_k, hparams_.head_dim_v); }
  int64_t max_row_width() const;  // the widest activation row any matmul sees
  // Lets the backend lay out every matmul weight its own way (Backend::pack);
  // the model keeps those buffers. Engines call it when they start; weights
  // already laid out are left as they are, so later calls cost nothing.
  //
  // It also copies the file tensors the f32 vectors (norms, biases, rope
  // factors) point into to one heap buffer, each at a 64-byte boundary, has
  // get_rows read the token embedding with pread (Weight::file) unless the
  // output matmul reads it in place anyway, and then drops every page of the
  // file: afterwards only the matrices the backend did not pack (and the rows
  // left over from its groups) are read through the mapping, so what the
  // process holds no longer depends on how the page cache maps the file
  // (fault-around, large folios), and `hearth plan` can count it.
  // Only layers [first_layer, end_layer) (-1: through the last) and, with
  // output, the output matrix are packed: a CPU part of a split packs only
  // its own.
  void prepare_weights(backend::Backend& be, int first_layer = 0, int end_layer = -1, bool output = true) const;
  // The size of that heap buffer of vectors, in bytes (no weight is read).
  uint64_t vector_copy_bytes() const;

  // Used by the architecture files while loading.
  HParams hparams_;
  // Mutable for prepare_weights only, which fills in Weight::packed.
  mutable Weights weights_;
  ForwardFn forward_ = nullptr;

 private:
  std::shared_ptr<const gguf::File> file_;
  mutable std::mutex prepare_mutex_;
  mutable std::vector<std::shared_ptr<const uint8_t[]>> packed_buffers_;
  mutable std::unique_ptr<float[]> vector_copy_;  // the f32 vectors, out of the file
};

}  // namespace hearth::model

// The layer blocks every architecture is built from. Each records device ops
// on views of the workspace rows of the current micro-batch (n = batch.n
// rows), through ForwardContext's DeviceBackend; model code never names a
// device.
#pragma once

#include "model/model.h"

namespace hearth::model {

using backend::DeviceTensor;

struct AttentionOptions {
  float kq_scale = 1.0f;        // multiplies q.k (1 when q was pre-scaled)
  float softcap = 0.0f;         // gemma2's attention-logit cap
  int sliding_window = 0;       // 0 on global layers
  backend::RopeParams rope;     // this layer's rope
  bool use_rope = true;         // false: BERT's learned positions instead
  bool causal = true;           // false: encoders attend to the whole sequence
};

// The Hadamard rotation llama.cpp applies for a quantized K (V) cache: the
// block size, or 0 for none.
int k_rotation_block(DType cache_type, int head_dim);
int v_rotation_block(DType cache_type, int head_dim);

// A workspace buffer seen as rows x width contiguous f32 (its first
// rows * width values).
DeviceTensor rows_of(const DeviceTensor& buffer, int64_t rows, int64_t width);

// Writes the batch's inputs (tokens, positions, block tables, visibility,
// output rows) into the workspace: the first thing a forward records.
void write_inputs(const Model& m, ForwardContext& c, const Batch& b);

// ws.x[n][n_embd] <- token embeddings of batch.tokens, times token_scale
// (gemma: sqrt(n_embd)); rows the batch gives as embeddings are copied as is.
void embed_tokens(const Model& m, ForwardContext& c, const Batch& b, float token_scale = 1.0f);

// out[n][n_embd] <- wo * attention(q, k, v of xn), writing this layer's K/V
// rows at the batch positions. q_prescale (gemma) multiplies q after rope.
// The layer's attention sinks join the softmax (gpt-oss), and its
// attn_sub_norm normalises the attention output before wo (BitNet).
void attention_block(const Model& m, ForwardContext& c, int layer, const Batch& b, const DeviceTensor& xn,
                     const AttentionOptions& options, const DeviceTensor& out, float q_prescale = 1.0f);

// out[n][n_embd] <- down(act(gate(xn)) * up(xn)); a fused up projection
// (2 * n_ff rows, gate first) when the layer has no ffn_gate. BitNet's
// ffn_sub_norm normalises the gated values before down.
void dense_ffn(const Model& m, ForwardContext& c, int layer, const DeviceTensor& xn, backend::Activation act,
               const DeviceTensor& out);

// How the router turns its logits (plus the layer's router bias, if any)
// into the k experts and their weights (backend::MoeGating).
using ExpertGating = backend::MoeGating;

// out[n][n_embd] <- the weighted sum of the top-k experts' gated FFNs
// (the layer's expert biases added where it has them).
void moe_ffn(const Model& m, ForwardContext& c, int layer, const DeviceTensor& xn, ExpertGating gating,
             backend::Activation act, const DeviceTensor& out);

// logits_out[b.n_outputs][n_vocab] <- output(norm(ws.x[output rows])), with
// the final softcap when the model has one: read back at the next sync.
void lm_head(const Model& m, ForwardContext& c, const Batch& b, float* logits_out);

// out = rms_norm(x) * weight (weight: n_embd-wide, the model's).
void norm_rows(ForwardContext& c, const DeviceTensor& x, const float* weight, float eps, const DeviceTensor& out);

// The rope of layer l: base from the file (local layers may use another),
// llama3 frequency factors when present.
backend::RopeParams layer_rope(const Model& m, backend::RopeParams::Mode mode, bool local);

}  // namespace hearth::model

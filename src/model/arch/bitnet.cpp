// BitNet b1.58 (llama.cpp's LLM_ARCH_BITNET): llama's pre-norm block with
// NEOX rope, ternary projections (TQ1_0 / TQ2_0 in published files, or the
// converter's {-1, 0, 1} x scale floats), tied embeddings, and two sub-norms:
// an RMS norm of the attention output before attn_output and one of the
// gated FFN before ffn_down (the shared blocks apply both where a layer has
// them).
#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  prenorm_decoder_forward(m, c, b, logits, backend::RopeParams::Mode::Neox, /*sliding_window=*/0);
}

}  // namespace

void load_bitnet(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "bitnet");
  const HParams& hp = model.hparams_;
  model.weights_ = load_decoder_weights(file, hp);
  const WeightLoader load(file);
  for (int l = 0; l < hp.n_layer; ++l) {
    Layer& L = model.weights_.layers[l];
    // Per-tensor scales (blk.N.attn_q.scale, ...) multiply a projection's output in llama.cpp; the
    // converter folds them into the weights, and files that keep them apart are not supported yet.
    for (const char* name : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      if (load.has(fmt::format("blk.{}.{}.scale", l, name)))
        fail("{}: tensor 'blk.{}.{}.scale' (a separate BitNet weight scale) is not supported", file.path(), l, name);
    if (L.ffn_gate.empty()) fail("{}: tensor '{}' is missing", file.path(), layer_tensor(l, "ffn_gate"));
    L.attn_sub_norm = load.vector(layer_tensor(l, "attn_sub_norm"), int64_t(hp.n_head[l]) * hp.head_dim_v);
    L.ffn_sub_norm = load.vector(layer_tensor(l, "ffn_sub_norm"), hp.n_ff[l]);
  }
  model.forward_ = forward;
}

}  // namespace hearth::model

// Qwen2 / Qwen2.5: llama's block with q/k/v biases and rope on split halves (NEOX).
#include <cmath>

#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  const HParams& hp = m.hparams();
  Workspace& ws = c.ws;
  const int64_t n = b.n, E = hp.n_embd;
  AttentionOptions attn;
  attn.kq_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
  attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, false);

  embed_tokens(m, c, b);                                           // x [n][E]
  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = m.weights().layers[l];
    norm_rows(c, ws.x.data(), L.attn_norm, n, E, hp.rms_eps, ws.xn.data());  // xn [n][E]
    attention_block(m, c, l, b, ws.xn.data(), attn, ws.proj.data());      // proj [n][E], q/k/v + bias
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
    norm_rows(c, ws.x.data(), L.ffn_norm, n, E, hp.rms_eps, ws.xn.data());
    dense_ffn(m, c, l, n, ws.xn.data(), backend::Activation::Silu, ws.proj.data());  // proj [n][E]
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
  }
  lm_head(m, c, b, logits);                                        // logits [n_outputs][n_vocab]
}

}  // namespace

void load_qwen2(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "qwen2");
  model.weights_ = load_decoder_weights(file, model.hparams_);
  for (int l = 0; l < model.hparams_.n_layer; ++l) {
    const Layer& L = model.weights_.layers[l];
    if (!L.bq || !L.bk || !L.bv) fail("{}: qwen2 layer {} lacks its q/k/v biases", file.path(), l);
  }
  model.forward_ = forward;
}

}  // namespace hearth::model

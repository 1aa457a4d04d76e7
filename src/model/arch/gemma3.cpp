// Gemma 3: Gemma 2's block without softcaps, plus per-head q/k norms; five
// local (sliding-window, rope base freq_base_swa) layers to one global layer.
#include <cmath>

#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

constexpr int kLocalPeriod = 6;  // llama.cpp's gemma3 pattern: il % 6 < 5 is local

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  const HParams& hp = m.hparams();
  Workspace& ws = c.ws;
  const int64_t n = b.n, E = hp.n_embd;
  const float q_scale = 1.0f / std::sqrt(float(hp.head_dim_k));

  embed_tokens(m, c, b);                                           // x [n][E]
  c.be.scale(ws.x.data(), std::sqrt(float(E)), n * E);
  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = m.weights().layers[l];
    AttentionOptions attn;
    attn.sliding_window = L.sliding ? hp.sliding_window : 0;
    attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, L.sliding);
    if (L.sliding) attn.rope.freq_scale = 1.0f;  // rope scaling applies to global layers only
    norm_rows(c, ws.x.data(), L.attn_norm, n, E, hp.rms_eps, ws.xn.data());        // xn [n][E]
    attention_block(m, c, l, b, ws.xn.data(), attn, ws.proj.data(), q_scale);     // proj [n][E]
    norm_rows(c, ws.proj.data(), L.post_attn_norm, n, E, hp.rms_eps, ws.proj.data());
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
    norm_rows(c, ws.x.data(), L.ffn_norm, n, E, hp.rms_eps, ws.xn.data());
    dense_ffn(m, c, l, n, ws.xn.data(), backend::Activation::GeluTanh, ws.proj.data());  // proj [n][E]
    norm_rows(c, ws.proj.data(), L.post_ffn_norm, n, E, hp.rms_eps, ws.proj.data());
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
  }
  lm_head(m, c, b, logits);                                        // logits [n_outputs][n_vocab]
}

}  // namespace

void load_gemma3(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "gemma3");
  model.weights_ = load_decoder_weights(file, model.hparams_);
  for (int l = 0; l < model.hparams_.n_layer; ++l)
    model.weights_.layers[l].sliding = model.hparams_.sliding_window > 0 && l % kLocalPeriod < kLocalPeriod - 1;
  model.forward_ = forward;
}

}  // namespace hearth::model

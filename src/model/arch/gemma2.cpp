// Gemma 2: embeddings scaled by sqrt(n_embd), pre- and post-norms around
// attention and FFN, GELU-gated FFN, attention-logit and final-logit softcaps,
// sliding-window attention on even layers (llama.cpp's fixed period 2).
// Gemma 3 runs this same block (gemma3.cpp holds what differs: q/k norms come
// from its weights, no softcaps, its own local rope base and window pattern).
#include <cmath>

#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {

void gemma_forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  const HParams& hp = m.hparams();
  const int64_t n = b.n, E = hp.n_embd;
  const DeviceTensor x = rows_of(c.ws.x, n, E), xn = rows_of(c.ws.xn, n, E), proj = rows_of(c.ws.proj, n, E);
  const float q_scale = 1.0f / std::sqrt(float(hp.head_dim_k));  // applied to q, then kq scale 1

  if (c.first_layer == 0) embed_tokens(m, c, b, std::sqrt(float(E)));  // x [n][E], token rows scaled
  for (int l = c.first_layer; l < c.end_layer; ++l) {              // this device's layers
    const Layer& L = m.weights().layers[l];
    AttentionOptions attn;
    attn.softcap = hp.attn_softcap;
    attn.sliding_window = L.sliding ? hp.sliding_window : 0;
    attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, L.sliding);  // local layers: rope.freq_base_swa
    if (L.sliding) attn.rope.freq_scale = 1.0f;  // rope scaling applies to global layers only
    norm_rows(c, x, L.attn_norm, hp.rms_eps, xn);                  // xn [n][E]
    attention_block(m, c, l, b, xn, attn, proj, q_scale);          // proj [n][E]
    norm_rows(c, proj, L.post_attn_norm, hp.rms_eps, proj);
    c.dev.add(x, proj);
    norm_rows(c, x, L.ffn_norm, hp.rms_eps, xn);
    dense_ffn(m, c, l, xn, backend::Activation::GeluTanh, proj);   // proj [n][E]
    norm_rows(c, proj, L.post_ffn_norm, hp.rms_eps, proj);
    c.dev.add(x, proj);
  }
  if (c.output) lm_head(m, c, b, logits);                          // logits [n_outputs][n_vocab], capped
}

void load_gemma2(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "gemma2");
  model.weights_ = load_decoder_weights(file, model.hparams_);
  for (int l = 0; l < model.hparams_.n_layer; ++l)
    model.weights_.layers[l].sliding = model.hparams_.sliding_window > 0 && l % 2 == 0;
  model.forward_ = gemma_forward;
}

}  // namespace hearth::model

// Llama 2/3 and the families llama.cpp runs as llama (Mistral, SmolLM,
// TinyLlama, Mixtral-style MoE): pre-norm blocks, rope on adjacent pairs
// (llama3 frequency factors from rope_freqs when present), SwiGLU FFN.
// Qwen2, Qwen3, Qwen3-MoE and Phi-3 are this same network with rope on split
// halves; their files hold only what differs (checks, the rope mode), and the
// optional pieces (biases, q/k norms, fused projections, experts) come from
// the weights the file has.
#include <cmath>

#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {

void prenorm_decoder_forward(const Model& m, ForwardContext& c, const Batch& b, float* logits,
                             backend::RopeParams::Mode rope_mode, int sliding_window) {
  const HParams& hp = m.hparams();
  const int64_t n = b.n, E = hp.n_embd;
  const DeviceTensor x = rows_of(c.ws.x, n, E), xn = rows_of(c.ws.xn, n, E), proj = rows_of(c.ws.proj, n, E);
  AttentionOptions attn;
  attn.kq_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
  attn.rope = layer_rope(m, rope_mode, false);
  attn.sliding_window = sliding_window;  // phi3: every layer; 0 elsewhere

  if (c.first_layer == 0) embed_tokens(m, c, b);                  // x [n][E]
  for (int l = c.first_layer; l < c.end_layer; ++l) {             // this device's layers
    const Layer& L = m.weights().layers[l];
    norm_rows(c, x, L.attn_norm, hp.rms_eps, xn);                 // xn [n][E]
    attention_block(m, c, l, b, xn, attn, proj);                  // proj [n][E] (q/k/v + bias, q/k norms)
    c.dev.add(x, proj);                                           // x += attention
    norm_rows(c, x, L.ffn_norm, hp.rms_eps, xn);                  // xn [n][E]
    if (hp.n_expert > 0)                                          // Mixtral, Qwen3-MoE
      moe_ffn(m, c, l, xn, ExpertGating::SoftmaxNormalized, backend::Activation::Silu, proj);  // proj [n][E]
    else                                                          // gate/up, or Phi-3's fused up
      dense_ffn(m, c, l, xn, backend::Activation::Silu, proj);
    c.dev.add(x, proj);                                           // x += ffn
  }
  if (c.output) lm_head(m, c, b, logits);                         // logits [n_outputs][n_vocab]
}

namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  prenorm_decoder_forward(m, c, b, logits, backend::RopeParams::Mode::Norm, /*sliding_window=*/0);
}

}  // namespace

void load_llama(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, file.metadata().get_string("general.architecture"));
  model.weights_ = load_decoder_weights(file, model.hparams_);
  model.forward_ = forward;
}

}  // namespace hearth::model

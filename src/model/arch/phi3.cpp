// Phi-3: fused qkv projection (rows: Q, then K, then V) and fused gate/up
// projection (first n_ff rows gate, then n_ff up), NEOX rope, SwiGLU.
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
  attn.sliding_window = hp.sliding_window;

  embed_tokens(m, c, b);                                           // x [n][E]
  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = m.weights().layers[l];
    norm_rows(c, ws.x.data(), L.attn_norm, n, E, hp.rms_eps, ws.xn.data());  // xn [n][E]
    attention_block(m, c, l, b, ws.xn.data(), attn, ws.proj.data());      // qkv [n][q+k+v] -> proj [n][E]
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
    norm_rows(c, ws.x.data(), L.ffn_norm, n, E, hp.rms_eps, ws.xn.data());
    dense_ffn(m, c, l, n, ws.xn.data(), backend::Activation::Silu, ws.proj.data());  // up [n][2*n_ff] -> proj
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
  }
  lm_head(m, c, b, logits);                                        // logits [n_outputs][n_vocab]
}

}  // namespace

void load_phi3(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "phi3");
  if (file.find_tensor("rope_factors_long.weight") != nullptr)
    fail("{}: Phi-3 long-context rope factors (rope_factors_long) are not supported yet", file.path());
  model.weights_ = load_decoder_weights(file, model.hparams_);
  model.forward_ = forward;
}

}  // namespace hearth::model

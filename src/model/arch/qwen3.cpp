// Qwen3 dense: per-head RMS norms on q and k before rope (NEOX), no biases;
// the attention width (n_head * head_dim) may differ from n_embd.
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
    attention_block(m, c, l, b, ws.xn.data(), attn, ws.proj.data());      // proj [n][E], q/k normed per head
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
    norm_rows(c, ws.x.data(), L.ffn_norm, n, E, hp.rms_eps, ws.xn.data());
    if (hp.n_expert > 0)                                                    // qwen3moe
      moe_ffn(m, c, l, n, ws.xn.data(), /*normalize_top_k=*/true, ws.proj.data());
    else
      dense_ffn(m, c, l, n, ws.xn.data(), backend::Activation::Silu, ws.proj.data());
    c.be.add(ws.x.data(), ws.proj.data(), n * E);
  }
  lm_head(m, c, b, logits);                                        // logits [n_outputs][n_vocab]
}

void load(Model& model, const gguf::File& file, const char* arch, bool moe) {
  model.hparams_ = read_common_hparams(file, arch);
  if (moe && (model.hparams_.n_expert <= 0 || model.hparams_.n_expert_used <= 0 ||
              model.hparams_.n_expert_used > model.hparams_.n_expert))
    fail("{}: {} needs {}.expert_count and {}.expert_used_count", file.path(), arch, arch, arch);
  model.weights_ = load_decoder_weights(file, model.hparams_);
  for (int l = 0; l < model.hparams_.n_layer; ++l) {
    const Layer& L = model.weights_.layers[l];
    if (!L.q_norm || !L.k_norm) fail("{}: {} layer {} lacks attn_q_norm/attn_k_norm", file.path(), arch, l);
  }
  model.forward_ = forward;
}

}  // namespace

void load_qwen3(Model& model, const gguf::File& file) { load(model, file, "qwen3", false); }

void load_qwen3moe(Model& model, const gguf::File& file) { load(model, file, "qwen3moe", true); }

}  // namespace hearth::model

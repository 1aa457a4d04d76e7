// Qwen3 dense: per-head RMS norms on q and k before rope (NEOX), no biases;
// the attention width (n_head * head_dim) may differ from n_embd.
#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  prenorm_decoder_forward(m, c, b, logits, backend::RopeParams::Mode::Neox, /*sliding_window=*/0);
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

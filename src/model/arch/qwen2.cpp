// Qwen2 / Qwen2.5: llama's block with q/k/v biases and rope on split halves (NEOX).
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

// Phi-3: fused qkv projection (rows: Q, then K, then V) and fused gate/up
// projection (first n_ff rows gate, then n_ff up), NEOX rope, SwiGLU.
#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  // Phi-3 slides its window on every layer (phi3.attention.sliding_window).
  prenorm_decoder_forward(m, c, b, logits, backend::RopeParams::Mode::Neox, m.hparams().sliding_window);
}

}  // namespace

void load_phi3(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "phi3");
  if (file.find_tensor("rope_factors_long.weight") != nullptr)
    fail("{}: Phi-3 long-context rope factors (rope_factors_long) are not supported yet", file.path());
  model.weights_ = load_decoder_weights(file, model.hparams_);
  for (Layer& layer : model.weights_.layers) layer.sliding = model.hparams_.sliding_window > 0;
  model.forward_ = forward;
}

}  // namespace hearth::model

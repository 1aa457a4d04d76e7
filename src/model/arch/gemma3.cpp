// Gemma 3: Gemma 2's block without softcaps, plus per-head q/k norms; five
// local (sliding-window, rope base freq_base_swa) layers to one global layer.
#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

constexpr int kLocalPeriod = 6;  // llama.cpp's default gemma3 pattern: il % 6 < 5 is local

}  // namespace

void load_gemma3(Model& model, const gguf::File& file) {
  model.hparams_ = read_common_hparams(file, "gemma3");
  model.weights_ = load_decoder_weights(file, model.hparams_);
  // gemma3.attention.sliding_window_pattern overrides the period, as in llama.cpp (0: every layer local).
  const int64_t period = file.metadata().get_int_or("gemma3.attention.sliding_window_pattern", kLocalPeriod);
  if (period < 0) fail("{}: 'gemma3.attention.sliding_window_pattern' = {} is not a layer period", file.path(), period);
  for (int l = 0; l < model.hparams_.n_layer; ++l)
    model.weights_.layers[l].sliding =
        model.hparams_.sliding_window > 0 && (period == 0 || l % period < period - 1);
  model.forward_ = gemma_forward;
}

}  // namespace hearth::model

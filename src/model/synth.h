// Random-weight GGUF models with the exact shapes of real ones, so speed can
// be measured anywhere without downloads. The files carry llama.cpp's key and
// tensor names and a fake SentencePiece vocabulary of the real size, so
// llama.cpp loads them too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace hearth::model {

struct SynthPreset {
  std::string name;       // "llama-3.2-1b"
  std::string arch;       // general.architecture
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
  float rope_base;
  float rms_eps;
  bool tied;               // no output.weight: the lm head is token_embd
  bool llama3_rope = false;  // rope_freqs.weight with llama3 factors
  float llama3_factor = 8.0f;
  int64_t sliding_window = 0;
  float rope_base_swa = 0;   // gemma3 local layers
  float rope_linear_scale = 0;  // gemma3 4b/27b global layers
  float attn_softcap = 0, final_softcap = 0;  // gemma2
  int64_t n_expert = 0, n_expert_used = 0, n_ff_expert = 0;
};

const std::vector<SynthPreset>& synth_presets();
const SynthPreset& find_synth_preset(const std::string& name);  // throws listing the presets

struct SynthOptions {
  DType type = DType::F16;  // of the 2-D weights; norms, biases and the router stay F32
  uint64_t seed = 1;
  int n_threads = 1;
};

// Writes the model to `path`; returns its parameter count.
uint64_t write_synth_model(const SynthPreset& preset, const SynthOptions& options, const std::string& path);

}  // namespace hearth::model

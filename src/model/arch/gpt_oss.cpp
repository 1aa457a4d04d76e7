// gpt-oss (llama.cpp's LLM_ARCH_OPENAI_MOE): a pre-norm decoder whose
// attention has q/k/v/o biases and one learned sink logit per head (a key
// with no value in every softmax), NEOX rope with YaRN scaling on every
// layer, sliding-window attention on even layers (period 2 unless
// gpt-oss.attention.sliding_window_pattern says otherwise), and an MoE FFN
// whose router has a bias, picks the top-k logits and softmaxes just those,
// and whose experts (MXFP4 in published files) have biases and run
// SwiGLU-OAI (ggml_swiglu_oai, alpha 1.702, limit 7). The FFN's pre-norm is
// stored as post_attention_norm.
#include <cmath>

#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

constexpr int kSlidingPeriod = 2;  // llama.cpp: il % 2 < 1, so layers 0, 2, ... slide

void forward(const Model& m, ForwardContext& c, const Batch& b, float* logits) {
  const HParams& hp = m.hparams();
  const int64_t n = b.n, E = hp.n_embd;
  const DeviceTensor x = rows_of(c.ws.x, n, E), xn = rows_of(c.ws.xn, n, E), proj = rows_of(c.ws.proj, n, E);

  if (c.first_layer == 0) embed_tokens(m, c, b);                  // x [n][E]
  for (int l = c.first_layer; l < c.end_layer; ++l) {             // this device's layers
    const Layer& L = m.weights().layers[l];
    AttentionOptions attn;
    attn.kq_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
    attn.sliding_window = L.sliding ? hp.sliding_window : 0;
    // Local layers take rope.freq_base_swa when the file has it; YaRN applies to every layer.
    attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, L.sliding);
    norm_rows(c, x, L.attn_norm, hp.rms_eps, xn);                 // xn [n][E]
    // q [n][n_head*hd] + bq, k/v [n][n_head_kv*hd] + bk/bv; softmax with this layer's sinks.
    attention_block(m, c, l, b, xn, attn, proj);                  // proj [n][E]
    c.dev.add_rows(proj, c.weights.vector(L.bo, E));              // + attn_output.bias
    c.dev.add(x, proj);                                           // x += attention
    norm_rows(c, x, L.post_attn_norm, hp.rms_eps, xn);            // xn [n][E]
    // router [n][n_expert] + bias -> top-k logits -> softmax of the k; experts
    // gate/up [n][n_ff_exp] + biases, SwiGLU-OAI, down [n][E] + bias.
    moe_ffn(m, c, l, xn, ExpertGating::SoftmaxOfTopK, backend::Activation::SwigluOai, proj);  // proj [n][E]
    c.dev.add(x, proj);                                           // x += ffn
  }
  if (c.output) lm_head(m, c, b, logits);                         // logits [n_outputs][n_vocab]
}

}  // namespace

void load_gpt_oss(Model& model, const gguf::File& file) {
  const char* arch = "gpt-oss";
  HParams hp = read_common_hparams(file, arch);
  if (hp.n_expert <= 0 || hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert || hp.n_ff_expert <= 0)
    fail("{}: gpt-oss needs {}.expert_count, {}.expert_used_count (at most the count) and "
         "{}.expert_feed_forward_length",
         file.path(), arch, arch, arch);
  if (hp.sliding_window <= 0)
    fail("{}: '{}.attention.sliding_window' is missing or not positive", file.path(), arch);
  const int64_t period =
      file.metadata().get_int_or(std::string(arch) + ".attention.sliding_window_pattern", kSlidingPeriod);
  if (period < 0) fail("{}: '{}.attention.sliding_window_pattern' = {} is not a layer period", file.path(), arch, period);

  Weights w = load_decoder_weights(file, hp);
  const WeightLoader load(file);
  const int64_t E = hp.n_embd, F = hp.n_ff_expert, X = hp.n_expert;
  for (int l = 0; l < hp.n_layer; ++l) {
    Layer& L = w.layers[l];
    const auto bias = [&](const char* name, int64_t size) {
      return load.vector(fmt::format("blk.{}.{}.bias", l, name), size);
    };
    if (!L.bq || !L.bk || !L.bv) fail("{}: gpt-oss layer {} lacks its q/k/v biases", file.path(), l);
    if (!L.post_attn_norm) fail("{}: tensor '{}' is missing", file.path(), layer_tensor(l, "post_attention_norm"));
    L.bo = bias("attn_output", E);
    L.attn_sinks = load.vector(layer_tensor(l, "attn_sinks"), hp.n_head[l]);
    L.ffn_gate_inp_b = bias("ffn_gate_inp", X);
    L.gate_exps_b = bias("ffn_gate_exps", F * X);
    L.up_exps_b = bias("ffn_up_exps", F * X);
    L.down_exps_b = bias("ffn_down_exps", E * X);
    L.sliding = period == 0 || l % period < period - 1;
  }
  model.hparams_ = hp;
  model.weights_ = std::move(w);
  model.forward_ = forward;
}

}  // namespace hearth::model

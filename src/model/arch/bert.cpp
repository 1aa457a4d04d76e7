// BERT-family encoders for embeddings: bert (learned positions, GELU FFN,
// separate q/k/v with biases) and nomic-bert (NEOX rope, fused qkv, SwiGLU
// FFN, no biases). Both are post-norm: token (+ type-0 row, + position)
// embeddings, LayerNorm, then per layer LayerNorm(x + attention(x)) and
// LayerNorm(h + ffn(h)), attention over the whole sequence. The forward
// writes the final hidden states of the output rows; pooling and
// normalisation happen in runtime/embedding.
#include <cmath>

#include "core/error.h"
#include "model/arch/architectures.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace hearth::model {
namespace {

void forward(const Model& m, ForwardContext& c, const Batch& b, float* hidden_out) {
  const HParams& hp = m.hparams();
  const Weights& w = m.weights();
  DeviceWeights& dw = c.weights;
  const int64_t n = b.n, E = hp.n_embd;
  const bool nomic = hp.arch == "nomic-bert";
  const DeviceTensor x = rows_of(c.ws.x, n, E), xn = rows_of(c.ws.xn, n, E), proj = rows_of(c.ws.proj, n, E);
  const auto vec = [&](const float* v) { return dw.vector(v, E); };

  if (c.first_layer == 0) {                                       // the embeddings (a split's first part)
    embed_tokens(m, c, b);                                        // x [n][E]
    if (!w.token_types.empty()) {                                 // every token is type 0 ("sentence A")
      const DeviceTensor type0 = rows_of(c.ws.xn, 1, E);
      c.dev.get_rows(dw.matrix(w.token_types), c.ws.zero_id, type0);
      c.dev.add_rows(x, type0);
    }
    if (!w.pos_embd.empty()) {                                    // + learned positions
      c.dev.get_rows(dw.matrix(w.pos_embd), c.ws.positions.row_range(0, n), xn);
      c.dev.add(x, xn);
    }
    c.dev.layer_norm(x, vec(w.embd_norm), vec(w.embd_norm_b), hp.rms_eps, x);
  }

  AttentionOptions attn;
  attn.kq_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
  attn.causal = false;
  attn.use_rope = nomic;
  attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, false);
  for (int l = c.first_layer; l < c.end_layer; ++l) {            // this device's layers
    const Layer& L = w.layers[l];
    attention_block(m, c, l, b, x, attn, proj);                   // proj [n][E]
    if (L.bo) c.dev.add_rows(proj, vec(L.bo));
    c.dev.add(proj, x);
    c.dev.layer_norm(proj, vec(L.attn_out_norm), vec(L.attn_out_norm_b), hp.rms_eps, xn);  // xn: h
    if (nomic) {
      dense_ffn(m, c, l, xn, backend::Activation::Silu, proj);
    } else {
      const int64_t F = hp.n_ff[l];
      const DeviceTensor up = rows_of(c.ws.ffn_b, n, F);         // up [n][F]
      c.dev.matmul(dw.matrix(L.ffn_up), xn, up);
      if (L.ffn_up_b) c.dev.add_rows(up, dw.vector(L.ffn_up_b, F));
      c.dev.activation(backend::Activation::GeluTanh, up, up);
      c.dev.matmul(dw.matrix(L.ffn_down), up, proj);
    }
    if (L.ffn_down_b) c.dev.add_rows(proj, vec(L.ffn_down_b));
    c.dev.add(proj, xn);
    c.dev.layer_norm(proj, vec(L.layer_out_norm), vec(L.layer_out_norm_b), hp.rms_eps, x);
  }
  if (!c.output || b.n_outputs == 0) return;
  // The output rows' hidden states, gathered into xn and read back.
  const DeviceTensor hidden = rows_of(c.ws.xn, b.n_outputs, E);
  c.dev.get_rows(x, c.ws.output_rows.row_range(0, b.n_outputs), hidden);
  c.dev.read(hidden, hidden_out);
}

}  // namespace

void load_bert(Model& model, const gguf::File& file) {
  const std::string arch = file.metadata().get_string("general.architecture");
  HParams hp = read_common_hparams(file, arch);
  hp.rms_eps = float(file.metadata().get_number_or(arch + ".attention.layer_norm_epsilon", 1e-12));
  hp.encoder = true;
  hp.pooling = int(file.metadata().get_int_or(arch + ".pooling_type", 0));
  if (hp.pooling < 0 || hp.pooling > 3)
    fail("{}: '{}.pooling_type' = {} is not supported (0 none, 1 mean, 2 cls, 3 last)", file.path(), arch, hp.pooling);
  const bool nomic = arch == "nomic-bert";

  const WeightLoader load(file);
  Weights w;
  w.token_embd = load.matrix("token_embd.weight", hp.n_embd, hp.n_vocab);
  const gguf::TensorInfo* types = file.find_tensor("token_types.weight");
  if (types) w.token_types = load.matrix("token_types.weight", hp.n_embd, int64_t(types->ne[1]));
  if (!nomic) w.pos_embd = load.matrix("position_embd.weight", hp.n_embd, hp.n_ctx_train);
  w.embd_norm = load.vector("token_embd_norm.weight", hp.n_embd);
  w.embd_norm_b = load.vector("token_embd_norm.bias", hp.n_embd);
  for (int l = 0; l < hp.n_layer; ++l) {
    Layer L;
    const int64_t E = hp.n_embd, F = hp.n_ff[l];
    const int64_t q_width = int64_t(hp.n_head[l]) * hp.head_dim_k;
    const int64_t kv_width = int64_t(hp.n_head_kv[l]) * hp.head_dim_k;
    const auto bias = [&](const char* name, int64_t size) {
      return load.optional_vector(fmt::format("blk.{}.{}.bias", l, name), size);
    };
    L.wqkv = load.optional_matrix(layer_tensor(l, "attn_qkv"), E, q_width + 2 * kv_width);
    if (L.wqkv.empty()) {
      L.wq = load.matrix(layer_tensor(l, "attn_q"), E, q_width);
      L.wk = load.matrix(layer_tensor(l, "attn_k"), E, kv_width);
      L.wv = load.matrix(layer_tensor(l, "attn_v"), E, kv_width);
      L.bq = bias("attn_q", q_width);
      L.bk = bias("attn_k", kv_width);
      L.bv = bias("attn_v", kv_width);
    } else if (load.has(fmt::format("blk.{}.attn_qkv.bias", l))) {
      fail("{}: a bias on the fused attn_qkv of layer {} is not supported", file.path(), l);
    }
    L.wo = load.matrix(layer_tensor(l, "attn_output"), q_width, E);
    L.bo = bias("attn_output", E);
    L.attn_out_norm = load.vector(layer_tensor(l, "attn_output_norm"), E);
    L.attn_out_norm_b = load.vector(fmt::format("blk.{}.attn_output_norm.bias", l), E);
    if (nomic) L.ffn_gate = load.matrix(layer_tensor(l, "ffn_gate"), E, F);
    L.ffn_up = load.matrix(layer_tensor(l, "ffn_up"), E, F);
    L.ffn_up_b = bias("ffn_up", F);
    L.ffn_down = load.matrix(layer_tensor(l, "ffn_down"), F, E);
    L.ffn_down_b = bias("ffn_down", E);
    L.layer_out_norm = load.vector(layer_tensor(l, "layer_output_norm"), E);
    L.layer_out_norm_b = load.vector(fmt::format("blk.{}.layer_output_norm.bias", l), E);
    w.layers.push_back(L);
  }
  w.output = w.token_embd;  // unused: encoders have no lm head
  model.hparams_ = hp;
  model.weights_ = std::move(w);
  model.forward_ = forward;
}

}  // namespace hearth::model

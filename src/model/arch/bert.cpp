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
  Workspace& ws = c.ws;
  const int64_t n = b.n, E = hp.n_embd;
  const bool nomic = hp.arch == "nomic-bert";

  embed_tokens(m, c, b);                                            // x [n][E]
  if (!w.token_types.empty()) {                                     // every token is type 0 ("sentence A")
    const int32_t type0 = 0;
    c.be.get_rows(w.token_types, &type0, 1, ws.xn.data());
    c.be.add_rows(ws.x.data(), ws.xn.data(), n, E);
  }
  if (!w.pos_embd.empty()) {
    c.be.get_rows(w.pos_embd, b.positions, n, ws.xn.data());
    c.be.add(ws.x.data(), ws.xn.data(), n * E);
  }
  c.be.layer_norm(ws.x.data(), w.embd_norm, w.embd_norm_b, n, E, hp.rms_eps, ws.x.data());

  AttentionOptions attn;
  attn.kq_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
  attn.causal = false;
  attn.use_rope = nomic;
  attn.rope = layer_rope(m, backend::RopeParams::Mode::Neox, false);
  for (int l = 0; l < hp.n_layer; ++l) {
    const Layer& L = w.layers[l];
    attention_block(m, c, l, b, ws.x.data(), attn, ws.proj.data());  // proj [n][E]
    if (L.bo) c.be.add_rows(ws.proj.data(), L.bo, n, E);
    c.be.add(ws.proj.data(), ws.x.data(), n * E);
    c.be.layer_norm(ws.proj.data(), L.attn_out_norm, L.attn_out_norm_b, n, E, hp.rms_eps, ws.xn.data());  // xn: h
    if (nomic) {
      dense_ffn(m, c, l, n, ws.xn.data(), backend::Activation::Silu, ws.proj.data());
    } else {
      const int64_t F = hp.n_ff[l];
      c.be.matmul(L.ffn_up, ws.xn.data(), n, ws.ffn_b.data());
      if (L.ffn_up_b) c.be.add_rows(ws.ffn_b.data(), L.ffn_up_b, n, F);
      c.be.activation(backend::Activation::GeluTanh, ws.ffn_b.data(), n * F, ws.ffn_b.data());
      c.be.matmul(L.ffn_down, ws.ffn_b.data(), n, ws.proj.data());
    }
    if (L.ffn_down_b) c.be.add_rows(ws.proj.data(), L.ffn_down_b, n, E);
    c.be.add(ws.proj.data(), ws.xn.data(), n * E);
    c.be.layer_norm(ws.proj.data(), L.layer_out_norm, L.layer_out_norm_b, n, E, hp.rms_eps, ws.x.data());
  }
  for (int64_t i = 0; i < b.n_outputs; ++i)
    std::copy_n(ws.x.data() + int64_t(b.output_rows[i]) * E, E, hidden_out + i * E);
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

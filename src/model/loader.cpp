#include "model/loader.h"

#include "core/error.h"

namespace hearth::model {
namespace {

// A per-layer key may be one number or an array with one per layer.
std::vector<int64_t> per_layer(const gguf::Metadata& md, const std::string& key, int n_layer, int64_t fallback,
                               bool required) {
  const gguf::Value* v = md.find(key);
  if (v == nullptr) {
    if (required) fail("metadata key '{}' is missing", key);
    return std::vector<int64_t>(n_layer, fallback);
  }
  if (!v->is_array()) return std::vector<int64_t>(n_layer, v->as_int(key));
  if (v->size() != uint64_t(n_layer)) fail("'{}' has {} entries but the model has {} layers", key, v->size(), n_layer);
  std::vector<int64_t> out(n_layer);
  for (int i = 0; i < n_layer; ++i) out[i] = v->int_at(i);
  return out;
}

}  // namespace

std::string layer_tensor(int layer, const char* name) { return fmt::format("blk.{}.{}.weight", layer, name); }

HParams read_common_hparams(const gguf::File& file, const std::string& arch) {
  const gguf::Metadata& md = file.metadata();
  auto key = [&](const char* suffix) { return arch + "." + suffix; };
  HParams hp;
  hp.arch = arch;
  hp.n_layer = int(md.get_int(key("block_count")));
  hp.n_embd = md.get_int(key("embedding_length"));
  hp.n_ctx_train = md.get_int_or(key("context_length"), 4096);
  if (hp.n_layer <= 0 || hp.n_layer > 4096) fail("'{}' = {} is not a usable layer count", key("block_count"), hp.n_layer);
  if (hp.n_embd <= 0) fail("'{}' = {} is not a usable width", key("embedding_length"), hp.n_embd);
  for (int64_t h : per_layer(md, key("attention.head_count"), hp.n_layer, 0, true)) hp.n_head.push_back(int(h));
  const auto kv = per_layer(md, key("attention.head_count_kv"), hp.n_layer, -1, false);
  for (int l = 0; l < hp.n_layer; ++l) hp.n_head_kv.push_back(kv[l] < 0 ? hp.n_head[l] : int(kv[l]));
  hp.n_ff = per_layer(md, key("feed_forward_length"), hp.n_layer, 0, false);
  for (int l = 0; l < hp.n_layer; ++l)
    if (hp.n_head[l] <= 0 || hp.n_head_kv[l] <= 0 || hp.n_head[l] % hp.n_head_kv[l] != 0)
      fail("layer {}: {} heads and {} KV heads do not group evenly", l, hp.n_head[l], hp.n_head_kv[l]);
  hp.head_dim_k = int(md.get_int_or(key("attention.key_length"), hp.n_embd / hp.n_head[0]));
  hp.head_dim_v = int(md.get_int_or(key("attention.value_length"), hp.n_embd / hp.n_head[0]));
  hp.rms_eps = float(md.get_number_or(key("attention.layer_norm_rms_epsilon"), 1e-5));

  hp.rope.n_dims = int(md.get_int_or(key("rope.dimension_count"), hp.head_dim_k));
  hp.rope.freq_base = float(md.get_number_or(key("rope.freq_base"), 10000.0));
  hp.rope_base_swa = float(md.get_number_or(key("rope.freq_base_swa"), hp.rope.freq_base));
  const std::string scaling = md.get_string_or(key("rope.scaling.type"), "none");
  const float factor = float(md.get_number_or(key("rope.scaling.factor"), 0.0));
  if (scaling == "linear" && factor > 0) {
    hp.rope.freq_scale = 1.0f / factor;
  } else if (scaling == "yarn" && factor > 0) {
    hp.rope.freq_scale = 1.0f / factor;
    hp.rope.ext_factor = float(md.get_number_or(key("rope.scaling.yarn_ext_factor"), 1.0));
    hp.rope.attn_factor = float(md.get_number_or(key("rope.scaling.attn_factor"), 1.0));
    hp.rope.beta_fast = float(md.get_number_or(key("rope.scaling.yarn_beta_fast"), 32.0));
    hp.rope.beta_slow = float(md.get_number_or(key("rope.scaling.yarn_beta_slow"), 1.0));
    hp.rope.n_ctx_orig = int(md.get_int_or(key("rope.scaling.original_context_length"), hp.n_ctx_train));
  } else if (scaling != "none" && scaling != "llama3" && factor > 0) {
    fail("rope scaling type '{}' is not supported (supported: none, linear, yarn, llama3)", scaling);
  }
  hp.sliding_window = int(md.get_int_or(key("attention.sliding_window"), 0));
  hp.attn_softcap = float(md.get_number_or(key("attn_logit_softcapping"), 0.0));
  hp.final_softcap = float(md.get_number_or(key("final_logit_softcapping"), 0.0));
  hp.n_expert = int(md.get_int_or(key("expert_count"), 0));
  hp.n_expert_used = int(md.get_int_or(key("expert_used_count"), 0));
  hp.n_ff_expert = md.get_int_or(key("expert_feed_forward_length"), 0);

  const gguf::TensorInfo& embd = file.tensor("token_embd.weight");
  hp.n_vocab = md.get_int_or(key("vocab_size"), int64_t(embd.ne[1]));
  if (hp.n_vocab != int64_t(embd.ne[1]))
    fail("'{}' says {} tokens but token_embd.weight has {} rows", key("vocab_size"), hp.n_vocab, embd.ne[1]);
  return hp;
}

Weight WeightLoader::optional_matrix(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_mat) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return {};
  const uint32_t want_dims = n_mat > 1 ? 3 : 2;
  if (int64_t(t->ne[0]) != n_in || int64_t(t->ne[1]) != n_out || int64_t(t->ne[2]) != n_mat || t->n_dims > want_dims)
    fail("tensor '{}' has shape {} but this model needs {}x{}{}", name, fmt::join(t->shape(), "x"), n_in, n_out,
         n_mat > 1 ? fmt::format("x{}", n_mat) : "");
  Weight w;
  w.type = t->type;
  w.data = t->data;
  w.n_in = n_in;
  w.n_out = n_out;
  w.n_mat = n_mat;
  w.row_bytes = row_bytes(t->type, n_in);
  return w;
}

Weight WeightLoader::matrix(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_mat) const {
  Weight w = optional_matrix(name, n_in, n_out, n_mat);
  if (w.empty()) fail("{}: tensor '{}' is missing", file_.path(), name);
  return w;
}

const float* WeightLoader::optional_vector(const std::string& name, int64_t n) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return nullptr;
  if (t->type != DType::F32) fail("tensor '{}' is {}; 1-D tensors must be f32", name, dtype_name(t->type));
  if (int64_t(t->n_elements) != n) fail("tensor '{}' has {} elements, expected {}", name, t->n_elements, n);
  if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) fail("tensor '{}' is misaligned", name);
  return reinterpret_cast<const float*>(t->data);
}

const float* WeightLoader::vector(const std::string& name, int64_t n) const {
  const float* v = optional_vector(name, n);
  if (v == nullptr) fail("{}: tensor '{}' is missing", file_.path(), name);
  return v;
}

Weights load_decoder_weights(const gguf::File& file, const HParams& hp) {
  const WeightLoader load(file);
  Weights w;
  w.token_embd = load.matrix("token_embd.weight", hp.n_embd, hp.n_vocab);
  w.output_norm = load.vector("output_norm.weight", hp.n_embd);
  w.output = load.optional_matrix("output.weight", hp.n_embd, hp.n_vocab);
  if (w.output.empty()) w.output = w.token_embd;  // tied embeddings
  w.rope_freqs = load.optional_vector("rope_freqs.weight", hp.rope.n_dims / 2);
  for (int l = 0; l < hp.n_layer; ++l) {
    Layer L;
    const int64_t q_width = int64_t(hp.n_head[l]) * hp.head_dim_k;
    const int64_t k_width = int64_t(hp.n_head_kv[l]) * hp.head_dim_k;
    const int64_t v_width = int64_t(hp.n_head_kv[l]) * hp.head_dim_v;
    const int64_t out_width = int64_t(hp.n_head[l]) * hp.head_dim_v;
    L.attn_norm = load.vector(layer_tensor(l, "attn_norm"), hp.n_embd);
    L.wqkv = load.optional_matrix(layer_tensor(l, "attn_qkv"), hp.n_embd, q_width + k_width + v_width);
    if (L.wqkv.empty()) {
      L.wq = load.matrix(layer_tensor(l, "attn_q"), hp.n_embd, q_width);
      L.wk = load.matrix(layer_tensor(l, "attn_k"), hp.n_embd, k_width);
      L.wv = load.matrix(layer_tensor(l, "attn_v"), hp.n_embd, v_width);
    }
    L.bq = load.optional_vector(fmt::format("blk.{}.attn_q.bias", l), q_width);
    L.bk = load.optional_vector(fmt::format("blk.{}.attn_k.bias", l), k_width);
    L.bv = load.optional_vector(fmt::format("blk.{}.attn_v.bias", l), v_width);
    L.q_norm = load.optional_vector(layer_tensor(l, "attn_q_norm"), hp.head_dim_k);
    L.k_norm = load.optional_vector(layer_tensor(l, "attn_k_norm"), hp.head_dim_k);
    L.wo = load.matrix(layer_tensor(l, "attn_output"), out_width, hp.n_embd);
    L.post_attn_norm = load.optional_vector(layer_tensor(l, "post_attention_norm"), hp.n_embd);
    L.ffn_norm = load.optional_vector(layer_tensor(l, "ffn_norm"), hp.n_embd);
    L.post_ffn_norm = load.optional_vector(layer_tensor(l, "post_ffw_norm"), hp.n_embd);
    if (hp.n_expert > 0) {
      const int64_t n_ff = hp.n_ff_expert > 0 ? hp.n_ff_expert : hp.n_ff[l];
      L.ffn_gate_inp = load.matrix(layer_tensor(l, "ffn_gate_inp"), hp.n_embd, hp.n_expert);
      L.gate_exps = load.matrix(layer_tensor(l, "ffn_gate_exps"), hp.n_embd, n_ff, hp.n_expert);
      L.up_exps = load.matrix(layer_tensor(l, "ffn_up_exps"), hp.n_embd, n_ff, hp.n_expert);
      L.down_exps = load.matrix(layer_tensor(l, "ffn_down_exps"), n_ff, hp.n_embd, hp.n_expert);
    } else {
      L.ffn_gate = load.optional_matrix(layer_tensor(l, "ffn_gate"), hp.n_embd, hp.n_ff[l]);
      // Without ffn_gate (phi3) the up projection holds gate and up: 2 * n_ff rows.
      L.ffn_up = load.matrix(layer_tensor(l, "ffn_up"), hp.n_embd, L.ffn_gate.empty() ? 2 * hp.n_ff[l] : hp.n_ff[l]);
      L.ffn_down = load.matrix(layer_tensor(l, "ffn_down"), hp.n_ff[l], hp.n_embd);
    }
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace hearth::model

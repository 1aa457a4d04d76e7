#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"

namespace hearth::model {

void embed_tokens(const Model& m, ForwardContext& c, const Batch& b, float token_scale) {
  const int64_t E = m.hparams().n_embd;
  float* x = c.ws.x.data();
  if (b.embeddings == nullptr) {
    c.be.get_rows(m.weights().token_embd, b.tokens, b.n, x);
    if (token_scale != 1.0f) c.be.scale(x, token_scale, b.n * E);
    return;
  }
  for (int64_t i = 0; i < b.n; ++i) {
    if (b.embeddings[i] != nullptr) {
      std::memcpy(x + i * E, b.embeddings[i], size_t(E) * sizeof(float));
    } else {
      c.be.get_rows(m.weights().token_embd, b.tokens + i, 1, x + i * E);
      if (token_scale != 1.0f) c.be.scale(x + i * E, token_scale, E);
    }
  }
}

void norm_rows(ForwardContext& c, const float* x, const float* weight, int64_t n, int64_t width, float eps, float* out) {
  c.be.rms_norm(x, weight, n, width, eps, out);
}

backend::RopeParams layer_rope(const Model& m, backend::RopeParams::Mode mode, bool local) {
  backend::RopeParams rope = m.hparams().rope;
  rope.mode = mode;
  rope.freq_factors = m.weights().rope_freqs;
  if (local) rope.freq_base = m.hparams().rope_base_swa;
  return rope;
}

int k_rotation_block(DType cache_type, int head_dim) {
  if (!dtype_info(cache_type).quantized || head_dim % 64 != 0) return 0;
  int block = 64;
  while (head_dim % (block * 2) == 0) block *= 2;
  return block;
}

int v_rotation_block(DType cache_type, int head_dim) {
  return dtype_info(cache_type).quantized && head_dim % 64 == 0 ? 64 : 0;
}

void attention_block(const Model& m, ForwardContext& c, int layer, const Batch& b, const float* xn,
                     const AttentionOptions& options, float* out, float q_prescale) {
  const HParams& hp = m.hparams();
  const Layer& L = m.weights().layers[layer];
  Workspace& ws = c.ws;
  const int64_t n = b.n;
  const int n_head = hp.n_head[layer], n_head_kv = hp.n_head_kv[layer];
  const int64_t q_width = int64_t(n_head) * hp.head_dim_k;
  const int64_t k_width = int64_t(n_head_kv) * hp.head_dim_k;
  const int64_t v_width = int64_t(n_head_kv) * hp.head_dim_v;

  // q [n][n_head*hd], k [n][n_kv_head*hd], v [n][n_kv_head*hd_v]
  if (!L.wqkv.empty()) {
    const int64_t fused = q_width + k_width + v_width;
    c.be.matmul(L.wqkv, xn, n, ws.qkv.data());
    for (int64_t r = 0; r < n; ++r) {
      const float* row = ws.qkv.data() + r * fused;
      std::memcpy(ws.q.data() + r * q_width, row, q_width * sizeof(float));
      std::memcpy(ws.k.data() + r * k_width, row + q_width, k_width * sizeof(float));
      std::memcpy(ws.v.data() + r * v_width, row + q_width + k_width, v_width * sizeof(float));
    }
  } else {
    c.be.matmul(L.wq, xn, n, ws.q.data());
    c.be.matmul(L.wk, xn, n, ws.k.data());
    c.be.matmul(L.wv, xn, n, ws.v.data());
  }
  if (L.bq) c.be.add_rows(ws.q.data(), L.bq, n, q_width);
  if (L.bk) c.be.add_rows(ws.k.data(), L.bk, n, k_width);
  if (L.bv) c.be.add_rows(ws.v.data(), L.bv, n, v_width);
  // Per-head RMS norms (qwen3, gemma3) come before rope.
  if (L.q_norm) c.be.rms_norm(ws.q.data(), L.q_norm, n * n_head, hp.head_dim_k, hp.rms_eps, ws.q.data());
  if (L.k_norm) c.be.rms_norm(ws.k.data(), L.k_norm, n * n_head_kv, hp.head_dim_k, hp.rms_eps, ws.k.data());
  if (options.use_rope) {
    c.be.rope(ws.q.data(), n, n_head, hp.head_dim_k, b.positions, options.rope);
    c.be.rope(ws.k.data(), n, n_head_kv, hp.head_dim_k, b.positions, options.rope);
  }
  if (q_prescale != 1.0f) c.be.scale(ws.q.data(), q_prescale, n * q_width);

  // As llama.cpp (PR 21038): with a quantized K cache, q and k are rotated by
  // a Hadamard matrix before the store (dot products are unchanged, outliers
  // spread out); with a quantized V cache, v is rotated and the attention
  // output rotated back. K's block is the largest power of two >= 64 dividing
  // the head size; V's is 64.
  const int v_rot = v_rotation_block(c.kv.v(layer).type, hp.head_dim_v);
  if (const int k_rot = k_rotation_block(c.kv.k(layer).type, hp.head_dim_k); k_rot > 0) {
    c.be.hadamard(ws.q.data(), n * q_width, k_rot);
    c.be.hadamard(ws.k.data(), n * k_width, k_rot);
  }
  if (v_rot > 0) c.be.hadamard(ws.v.data(), n * v_width, v_rot);

  // A sliding-window layer's KV holds only its window: it has tables of its own.
  if ((options.sliding_window > 0) != L.sliding)
    fail("internal: layer {} attends {} but its KV is laid out {}", layer,
         options.sliding_window > 0 ? "through a window" : "globally", L.sliding ? "for a window" : "globally");
  const bool own_tables = L.sliding && b.swa_block_tables != nullptr;
  const int32_t* const* tables = own_tables ? b.swa_block_tables : b.block_tables;
  const int table_shift = own_tables ? b.swa_kv_block_shift : b.kv_block_shift;
  if (tables == nullptr) {
    // One sequence: its tokens are consecutive positions.
    c.be.store_kv(ws.k.data(), n, k_width, c.kv.k(layer), b.positions[0]);
    c.be.store_kv(ws.v.data(), n, v_width, c.kv.v(layer), b.positions[0]);
  } else {
    // Paged: each run of tokens that lands on consecutive rows is stored in one call.
    const int shift = table_shift;
    const int64_t mask = (int64_t(1) << shift) - 1;
    auto kv_row = [&](int64_t i) {
      return (int64_t(tables[i][b.positions[i] >> shift]) << shift) | (b.positions[i] & mask);
    };
    for (int64_t i = 0; i < n;) {
      const int64_t row = kv_row(i);
      int64_t run = 1;
      while (i + run < n && kv_row(i + run) == row + run) ++run;
      c.be.store_kv(ws.k.data() + i * k_width, run, k_width, c.kv.k(layer), row);
      c.be.store_kv(ws.v.data() + i * v_width, run, v_width, c.kv.v(layer), row);
      i += run;
    }
  }

  backend::AttentionParams ap;
  ap.q = ws.q.data();
  ap.positions = b.positions;
  ap.last_visible = b.last_visible;
  ap.block_tables = tables;
  ap.kv_block_shift = table_shift;
  ap.n_tokens = n;
  ap.k = c.kv.k(layer);
  ap.v = c.kv.v(layer);
  ap.n_kv = b.n_kv > 0 ? b.n_kv : b.positions[n - 1] + 1;
  ap.n_head = n_head;
  ap.n_head_kv = n_head_kv;
  ap.head_dim = hp.head_dim_k;
  ap.scale = options.kq_scale;
  ap.softcap = options.softcap;
  ap.sliding_window = options.sliding_window;
  ap.flash = c.flash_attn;
  ap.causal = options.causal;
  ap.sinks = L.attn_sinks;
  ap.out = ws.attn.data();
  c.be.attention(ap);
  if (v_rot > 0) c.be.hadamard(ws.attn.data(), n * int64_t(n_head) * hp.head_dim_v, v_rot);
  if (L.attn_sub_norm)  // BitNet
    c.be.rms_norm(ws.attn.data(), L.attn_sub_norm, n, int64_t(n_head) * hp.head_dim_v, hp.rms_eps, ws.attn.data());
  c.be.matmul(L.wo, ws.attn.data(), n, out);
}

void dense_ffn(const Model& m, ForwardContext& c, int layer, int64_t n, const float* xn, backend::Activation act,
               float* out) {
  const Layer& L = m.weights().layers[layer];
  const int64_t n_ff = m.hparams().n_ff[layer];
  Workspace& ws = c.ws;
  if (L.ffn_gate.empty()) {
    // Fused [gate; up]: each row is n_ff gate values then n_ff up values.
    c.be.matmul(L.ffn_up, xn, n, ws.ffn_a.data());
    c.be.gated_activation(act, ws.ffn_a.data(), ws.ffn_a.data() + n_ff, 2 * n_ff, n, n_ff, ws.ffn_b.data());
  } else {
    c.be.matmul(L.ffn_gate, xn, n, ws.ffn_a.data());
    c.be.matmul(L.ffn_up, xn, n, ws.ffn_b.data());
    c.be.gated_activation(act, ws.ffn_a.data(), ws.ffn_b.data(), n_ff, n, n_ff, ws.ffn_b.data());
  }
  if (L.ffn_sub_norm) c.be.rms_norm(ws.ffn_b.data(), L.ffn_sub_norm, n, n_ff, m.hparams().rms_eps, ws.ffn_b.data());
  c.be.matmul(L.ffn_down, ws.ffn_b.data(), n, out);
}

namespace {

// ggml_soft_max of n values in place: exponentials in float, summed in double.
void softmax_row(float* v, int n) {
  const float max_v = *std::max_element(v, v + n);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - max_v));
  const float inv = float(1.0 / sum);
  for (int i = 0; i < n; ++i) v[i] *= inv;
}

}  // namespace

void moe_ffn(const Model& m, ForwardContext& c, int layer, int64_t n, const float* xn, ExpertGating gating,
             backend::Activation act, float* out) {
  const HParams& hp = m.hparams();
  const Layer& L = m.weights().layers[layer];
  Workspace& ws = c.ws;
  const int n_expert = hp.n_expert, k = hp.n_expert_used;
  c.be.matmul(L.ffn_gate_inp, xn, n, ws.router.data());  // router logits [n][n_expert]
  if (L.ffn_gate_inp_b) c.be.add_rows(ws.router.data(), L.ffn_gate_inp_b, n, n_expert);
  for (int64_t r = 0; r < n; ++r) {
    float* probs = ws.router.data() + r * n_expert;  // gpt-oss: the logits themselves
    if (gating != ExpertGating::SoftmaxOfTopK) softmax_row(probs, n_expert);
    int32_t* ids = ws.expert_ids.data() + r * k;
    float* weights = ws.expert_weights.data() + r * k;
    // Top-k by probability (gpt-oss: by logit); ties go to the lower expert index.
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (int e = 0; e < n_expert; ++e) {
        if (std::find(ids, ids + j, e) != ids + j) continue;
        if (best < 0 || probs[e] > probs[best]) best = e;
      }
      ids[j] = best;
      weights[j] = probs[best];
    }
    if (gating == ExpertGating::SoftmaxNormalized) {
      float total = 0.0f;
      for (int j = 0; j < k; ++j) total += weights[j];
      for (int j = 0; j < k; ++j) weights[j] /= total;
    } else if (gating == ExpertGating::SoftmaxOfTopK) {
      softmax_row(weights, k);
    }
  }
  backend::MoeParams p;
  p.x = xn;
  p.rows = n;
  p.expert_ids = ws.expert_ids.data();
  p.expert_weights = ws.expert_weights.data();
  p.n_used = k;
  p.gate = L.gate_exps;
  p.up = L.up_exps;
  p.down = L.down_exps;
  p.gate_b = L.gate_exps_b;
  p.up_b = L.up_exps_b;
  p.down_b = L.down_exps_b;
  p.activation = act;
  p.out = out;
  c.be.moe_ffn(p);
}

void lm_head(const Model& m, ForwardContext& c, const Batch& b, float* logits_out) {
  const HParams& hp = m.hparams();
  Workspace& ws = c.ws;
  if (b.n_outputs == 0) return;  // e.g. an image's rows
  for (int64_t i = 0; i < b.n_outputs; ++i)
    std::memcpy(ws.xn.data() + i * hp.n_embd, ws.x.data() + int64_t(b.output_rows[i]) * hp.n_embd,
                hp.n_embd * sizeof(float));
  c.be.rms_norm(ws.xn.data(), m.weights().output_norm, b.n_outputs, hp.n_embd, hp.rms_eps, ws.xn.data());
  c.be.matmul(m.weights().output, ws.xn.data(), b.n_outputs, logits_out);
  if (hp.final_softcap != 0.0f) c.be.softcap(logits_out, hp.final_softcap, b.n_outputs * hp.n_vocab);
}

}  // namespace hearth::model

#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace hearth::model {

DeviceTensor rows_of(const DeviceTensor& buffer, int64_t rows, int64_t width) {
  DeviceTensor t = buffer;
  t.n = width;
  t.rows = rows;
  t.row_bytes = hearth::row_bytes(buffer.type, width);
  return t;
}

namespace {

// The first n values of an I32 input column (one per row).
DeviceTensor first_ids(const DeviceTensor& column, int64_t n) { return column.row_range(0, n); }

// Token i's block table in row i of `tables` ([n][width]); when every token
// has the same table (one sequence, or the session's ring) one row is written
// and the view repeats it (rows 0 bytes apart).
DeviceTensor write_tables(ForwardContext& c, DeviceTensor& tables, const int32_t* const* per_token, int64_t n,
                          int64_t width) {
  if (width <= 0) fail("internal: a paged batch without a table width");
  const bool shared = std::all_of(per_token, per_token + n, [&](const int32_t* t) { return t == per_token[0]; });
  const int64_t rows = shared ? 1 : n;
  if (tables.empty() || tables.n < width || tables.rows < rows) {  // the first step, or a wider table
    const int64_t grown_width = std::max(width, tables.empty() ? 0 : tables.n);
    const int64_t grown_rows = std::max(shared ? 1 : c.ws.max_rows, tables.empty() ? 0 : tables.rows);
    if (!tables.empty()) c.dev.free(tables);
    tables = c.dev.alloc(DType::I32, grown_width, grown_rows);
  }
  DeviceTensor view = rows_of(tables, rows, width);
  std::vector<int32_t>& flat = c.ws.host_tables;
  if (flat.size() < size_t(rows * width)) flat.resize(size_t(rows * width));
  for (int64_t i = 0; i < rows; ++i) std::memcpy(&flat[size_t(i * width)], per_token[i], size_t(width) * 4);
  c.dev.write(view, flat.data());
  if (shared) {
    view.rows = n;
    view.row_bytes = 0;
  }
  return view;
}

}  // namespace

void write_inputs(const Model& m, ForwardContext& c, const Batch& b) {
  Workspace& ws = c.ws;
  if (b.n <= 0 || b.n > ws.max_rows) fail("internal: a batch of {} rows for a workspace of {}", b.n, ws.max_rows);
  ws.step_tables = b.block_tables ? write_tables(c, ws.tables, b.block_tables, b.n, b.table_width) : DeviceTensor{};
  ws.step_swa_tables =
      b.swa_block_tables ? write_tables(c, ws.swa_tables, b.swa_block_tables, b.n, b.swa_table_width) : DeviceTensor{};
  // A later part of a split starts from the residual rows, not the tokens;
  // only the part running the output gathers the output rows.
  if (b.tokens != nullptr && c.first_layer == 0) c.dev.write(first_ids(ws.tokens, b.n), b.tokens);
  c.dev.write(first_ids(ws.positions, b.n), b.positions);
  if (b.last_visible != nullptr) c.dev.write(first_ids(ws.last_visible, b.n), b.last_visible);
  if (b.n_outputs > 0 && c.output) c.dev.write(first_ids(ws.output_rows, b.n_outputs), b.output_rows);
  (void)m;
}

void embed_tokens(const Model& m, ForwardContext& c, const Batch& b, float token_scale) {
  const int64_t E = m.hparams().n_embd;
  const DeviceTensor x = rows_of(c.ws.x, b.n, E);
  const DeviceTensor table = c.weights.matrix(m.weights().token_embd);
  if (b.embeddings == nullptr) {
    c.dev.get_rows(table, first_ids(c.ws.tokens, b.n), x);
    if (token_scale != 1.0f) c.dev.scale(x, token_scale);
    return;
  }
  for (int64_t i = 0; i < b.n; ++i) {
    const DeviceTensor row = x.row_range(i, 1);
    if (b.embeddings[i] != nullptr) {
      c.dev.write(row, b.embeddings[i]);
    } else {
      c.dev.get_rows(table, c.ws.tokens.row_range(i, 1), row);
      if (token_scale != 1.0f) c.dev.scale(row, token_scale);
    }
  }
}

void norm_rows(ForwardContext& c, const DeviceTensor& x, const float* weight, float eps, const DeviceTensor& out) {
  c.dev.rms_norm(x, c.weights.vector(weight, x.n), eps, out);
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

void attention_block(const Model& m, ForwardContext& c, int layer, const Batch& b, const DeviceTensor& xn,
                     const AttentionOptions& options, const DeviceTensor& out, float q_prescale) {
  const HParams& hp = m.hparams();
  const Layer& L = m.weights().layers[layer];
  Workspace& ws = c.ws;
  DeviceWeights& w = c.weights;
  const int64_t n = b.n;
  const int n_head = hp.n_head[layer], n_head_kv = hp.n_head_kv[layer];
  const int64_t q_width = int64_t(n_head) * hp.head_dim_k;
  const int64_t k_width = int64_t(n_head_kv) * hp.head_dim_k;
  const int64_t v_width = int64_t(n_head_kv) * hp.head_dim_v;
  const DeviceTensor q = rows_of(ws.q, n, q_width), k = rows_of(ws.k, n, k_width), v = rows_of(ws.v, n, v_width);

  // q [n][n_head*hd], k [n][n_kv_head*hd], v [n][n_kv_head*hd_v]
  if (!L.wqkv.empty()) {
    const DeviceTensor qkv = rows_of(ws.qkv, n, q_width + k_width + v_width);
    c.dev.matmul(w.matrix(L.wqkv), xn, qkv);
    c.dev.copy_rows(qkv.columns(0, q_width), q);
    c.dev.copy_rows(qkv.columns(q_width, k_width), k);
    c.dev.copy_rows(qkv.columns(q_width + k_width, v_width), v);
  } else {
    c.dev.matmul(w.matrix(L.wq), xn, q);
    c.dev.matmul(w.matrix(L.wk), xn, k);
    c.dev.matmul(w.matrix(L.wv), xn, v);
  }
  if (L.bq) c.dev.add_rows(q, w.vector(L.bq, q_width));
  if (L.bk) c.dev.add_rows(k, w.vector(L.bk, k_width));
  if (L.bv) c.dev.add_rows(v, w.vector(L.bv, v_width));
  // Per-head RMS norms (qwen3, gemma3) come before rope: rows of one head.
  if (L.q_norm)
    c.dev.rms_norm(rows_of(q, n * n_head, hp.head_dim_k), w.vector(L.q_norm, hp.head_dim_k), hp.rms_eps,
                   rows_of(q, n * n_head, hp.head_dim_k));
  if (L.k_norm)
    c.dev.rms_norm(rows_of(k, n * n_head_kv, hp.head_dim_k), w.vector(L.k_norm, hp.head_dim_k), hp.rms_eps,
                   rows_of(k, n * n_head_kv, hp.head_dim_k));
  const DeviceTensor positions = first_ids(ws.positions, n);
  if (options.use_rope) {
    const backend::DeviceRope rope{options.rope, w.vector(options.rope.freq_factors, options.rope.n_dims / 2)};
    c.dev.rope(q, n_head, hp.head_dim_k, positions, rope);
    c.dev.rope(k, n_head_kv, hp.head_dim_k, positions, rope);
  }
  if (q_prescale != 1.0f) c.dev.scale(q, q_prescale);

  // As llama.cpp (PR 21038): with a quantized K cache, q and k are rotated by
  // a Hadamard matrix before the store (dot products are unchanged, outliers
  // spread out); with a quantized V cache, v is rotated and the attention
  // output rotated back. K's block is the largest power of two >= 64 dividing
  // the head size; V's is 64.
  const DeviceTensor& k_cache = c.kv.k(layer);
  const DeviceTensor& v_cache = c.kv.v(layer);
  const int v_rot = v_rotation_block(v_cache.type, hp.head_dim_v);
  if (const int k_rot = k_rotation_block(k_cache.type, hp.head_dim_k); k_rot > 0) {
    c.dev.hadamard(q, k_rot);
    c.dev.hadamard(k, k_rot);
  }
  if (v_rot > 0) c.dev.hadamard(v, v_rot);

  // A sliding-window layer's KV holds only its window: it has tables of its own.
  if ((options.sliding_window > 0) != L.sliding)
    fail("internal: layer {} attends {} but its KV is laid out {}", layer,
         options.sliding_window > 0 ? "through a window" : "globally", L.sliding ? "for a window" : "globally");
  const bool own_tables = L.sliding && b.swa_block_tables != nullptr;
  const DeviceTensor tables = own_tables ? ws.step_swa_tables : ws.step_tables;  // written by write_inputs
  const int table_shift = own_tables ? b.swa_kv_block_shift : b.kv_block_shift;
  if (tables.empty()) {
    // One sequence: its tokens are consecutive positions.
    c.dev.store_kv(k, k_cache, b.positions[0]);
    c.dev.store_kv(v, v_cache, b.positions[0]);
  } else {
    const backend::DeviceKvSlots slots{positions, tables, table_shift};
    c.dev.store_kv_paged(k, k_cache, slots);
    c.dev.store_kv_paged(v, v_cache, slots);
  }

  const DeviceTensor attn = rows_of(ws.attn, n, int64_t(n_head) * hp.head_dim_v);
  backend::DeviceAttention a;
  a.q = q;
  a.positions = positions;
  a.block_tables = tables;
  a.kv_block_shift = tables.empty() ? 0 : table_shift;
  a.k = k_cache;
  a.v = v_cache;
  a.n_kv = b.n_kv > 0 ? b.n_kv : b.positions[n - 1] + 1;
  a.n_head = n_head;
  a.n_head_kv = n_head_kv;
  a.head_dim = hp.head_dim_k;
  a.scale = options.kq_scale;
  a.softcap = options.softcap;
  a.sliding_window = options.sliding_window;
  a.flash = c.flash_attn;
  a.causal = options.causal;
  if (b.last_visible != nullptr) a.last_visible = first_ids(ws.last_visible, n);
  a.sinks = w.vector(L.attn_sinks, n_head);
  a.out = attn;
  c.dev.attention(a);
  if (v_rot > 0) c.dev.hadamard(attn, v_rot);
  if (L.attn_sub_norm) c.dev.rms_norm(attn, w.vector(L.attn_sub_norm, attn.n), hp.rms_eps, attn);  // BitNet
  c.dev.matmul(w.matrix(L.wo), attn, out);
}

void dense_ffn(const Model& m, ForwardContext& c, int layer, const DeviceTensor& xn, backend::Activation act,
               const DeviceTensor& out) {
  const Layer& L = m.weights().layers[layer];
  const int64_t n = xn.rows, n_ff = m.hparams().n_ff[layer];
  DeviceWeights& w = c.weights;
  const DeviceTensor gated = rows_of(c.ws.ffn_b, n, n_ff);
  if (L.ffn_gate.empty()) {
    // Fused [gate; up]: each row is n_ff gate values then n_ff up values.
    const DeviceTensor fused = rows_of(c.ws.ffn_a, n, 2 * n_ff);
    c.dev.matmul(w.matrix(L.ffn_up), xn, fused);
    c.dev.gated_activation(act, fused.columns(0, n_ff), fused.columns(n_ff, n_ff), gated);
  } else {
    const DeviceTensor gate = rows_of(c.ws.ffn_a, n, n_ff);
    c.dev.matmul(w.matrix(L.ffn_gate), xn, gate);
    c.dev.matmul(w.matrix(L.ffn_up), xn, gated);
    c.dev.gated_activation(act, gate, gated, gated);
  }
  if (L.ffn_sub_norm) c.dev.rms_norm(gated, w.vector(L.ffn_sub_norm, n_ff), m.hparams().rms_eps, gated);  // BitNet
  c.dev.matmul(w.matrix(L.ffn_down), gated, out);
}

void moe_ffn(const Model& m, ForwardContext& c, int layer, const DeviceTensor& xn, ExpertGating gating,
             backend::Activation act, const DeviceTensor& out) {
  const HParams& hp = m.hparams();
  const Layer& L = m.weights().layers[layer];
  DeviceWeights& w = c.weights;
  const int64_t n = xn.rows;
  const int n_expert = hp.n_expert, k = hp.n_expert_used;
  const DeviceTensor router = rows_of(c.ws.router, n, n_expert);  // router logits [n][n_expert]
  c.dev.matmul(w.matrix(L.ffn_gate_inp), xn, router);
  if (L.ffn_gate_inp_b) c.dev.add_rows(router, w.vector(L.ffn_gate_inp_b, n_expert));
  backend::DeviceMoe p;
  p.x = xn;
  p.ids = rows_of(c.ws.expert_ids, n, k);              // [n][k] experts, ties to the lower index
  p.weights = rows_of(c.ws.expert_weights, n, k);      // [n][k] their weights
  c.dev.moe_route(router, k, gating, p.ids, p.weights);
  p.gate = w.matrix(L.gate_exps);
  p.up = w.matrix(L.up_exps);
  p.down = w.matrix(L.down_exps);
  p.n_expert = n_expert;
  p.gate_b = w.vector(L.gate_exps_b, n_expert * hp.n_ff_expert);
  p.up_b = w.vector(L.up_exps_b, n_expert * hp.n_ff_expert);
  p.down_b = w.vector(L.down_exps_b, n_expert * hp.n_embd);
  p.activation = act;
  p.out = out;
  c.dev.moe_ffn(p);
}

void lm_head(const Model& m, ForwardContext& c, const Batch& b, float* logits_out) {
  const HParams& hp = m.hparams();
  Workspace& ws = c.ws;
  if (b.n_outputs == 0) return;  // e.g. an image's rows
  // The output rows of x, gathered: xn [n_outputs][E].
  const DeviceTensor xn = rows_of(ws.xn, b.n_outputs, hp.n_embd);
  c.dev.get_rows(rows_of(ws.x, b.n, hp.n_embd), first_ids(ws.output_rows, b.n_outputs), xn);
  norm_rows(c, xn, m.weights().output_norm, hp.rms_eps, xn);
  const DeviceTensor output = c.weights.matrix(m.weights().output);
  // Chunks of the logits tensor's rows, each read back at the sync.
  for (int64_t first = 0; first < b.n_outputs; first += ws.logit_rows) {
    const int64_t count = std::min(ws.logit_rows, b.n_outputs - first);
    const DeviceTensor logits = rows_of(ws.logits, count, hp.n_vocab);
    c.dev.matmul(output, xn.row_range(first, count), logits);
    if (hp.final_softcap != 0.0f) c.dev.softcap(logits, hp.final_softcap);
    c.dev.read(logits, logits_out + first * hp.n_vocab);
  }
}

void Model::forward(ForwardContext& ctx, const Batch& batch, float* logits_out) const {
  forward(std::span<ForwardContext>(&ctx, 1), batch, logits_out);
}

void Model::forward(std::span<ForwardContext> parts, const Batch& batch, float* logits_out) const {
  const int n_layer = hparams_.n_layer;
  if (parts.empty()) fail("internal: a forward over no devices");
  int next_layer = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    ForwardContext& part = parts[i];
    if (part.end_layer < 0) part.end_layer = n_layer;
    if (part.first_layer != next_layer || part.end_layer < part.first_layer || part.end_layer > n_layer ||
        part.output != (i + 1 == parts.size()))
      fail("internal: split part {} runs layers [{}, {}) of {} (output: {}); the parts must cover the layers in "
           "order, the last running the output",
           i, part.first_layer, part.end_layer, n_layer, part.output);
    next_layer = part.end_layer;
  }
  if (next_layer != n_layer) fail("internal: a split covers {} of {} layers", next_layer, n_layer);

  const int64_t residual_floats = batch.n * hparams_.n_embd;
  for (size_t i = 0; i < parts.size(); ++i) {
    ForwardContext& part = parts[i];
    write_inputs(*this, part, batch);
    if (i > 0) {  // the residual rows the previous part left in its host_rows
      std::vector<float>& rows = parts[i - 1].ws.host_rows;
      part.dev.write(rows_of(part.ws.x, batch.n, hparams_.n_embd), rows.data());
    }
    forward_(*this, part, batch, logits_out);
    if (i + 1 < parts.size()) {
      std::vector<float>& rows = part.ws.host_rows;
      if (rows.size() < size_t(residual_floats)) rows.resize(size_t(part.ws.max_rows * hparams_.n_embd));
      part.dev.read(rows_of(part.ws.x, batch.n, hparams_.n_embd), rows.data());
    }
    part.dev.sync();
  }
}

}  // namespace hearth::model

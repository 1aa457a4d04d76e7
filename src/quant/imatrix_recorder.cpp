#include "quant/imatrix_recorder.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace hearth::quant {
namespace {

// llama-imatrix skips dense matmuls over fewer rows ("why are small batches ignored?").
constexpr int64_t kMinRows = 16;

void add_squares(float* acc, const float* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] += x[j] * x[j];
}

void check_finite(const float* v, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) fail("non-finite activations reached '{}' (the model produced NaN or infinity)", name);
}

}  // namespace

ImatrixRecorder::ImatrixRecorder(backend::Backend& inner, const gguf::File& file, bool include_output)
    : inner_(inner), include_output_(include_output) {
  for (const auto& t : file.tensors()) names_.emplace(t.data, t.name);
}

void ImatrixRecorder::reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) {
  inner_.reserve(max_rows, max_n, max_ctx, head_dim);
}

ImatrixEntry* ImatrixRecorder::dense_entry(const uint8_t* data, int64_t n_in) {
  const auto it = names_.find(data);
  if (it == names_.end()) return nullptr;
  const std::string& name = it->second;
  if (!(name.starts_with("blk.") || (include_output_ && name == "output.weight"))) return nullptr;
  ImatrixEntry& e = imatrix_.entries[name];
  if (e.sums.empty()) {
    e.sums.assign(size_t(n_in), 0.0f);
    e.counts.assign(1, 0);
  } else if (e.sums.size() != size_t(n_in)) {
    fail("'{}' was multiplied with rows of {} and of {} values", name, e.sums.size(), n_in);
  }
  return &e;
}

void ImatrixRecorder::matmul(const backend::Weight& w, const float* x, int64_t rows, float* y) {
  if (rows >= kMinRows && w.n_mat == 1) {
    if (ImatrixEntry* e = dense_entry(w.data, w.n_in)) {
      for (int64_t r = 0; r < rows; ++r) add_squares(e->sums.data(), x + r * w.n_in, w.n_in);
      check_finite(e->sums.data(), w.n_in, names_.at(w.data));
      for (int64_t& c : e->counts) c += rows;
    }
  }
  inner_.matmul(w, x, rows, y);
}

ImatrixEntry& ImatrixRecorder::expert_entry(const backend::Weight& stack) {
  const auto it = names_.find(stack.data);
  if (it == names_.end()) fail("an expert stack of {} x {} matrices is not a tensor of the model file", stack.n_mat, stack.n_in);
  ImatrixEntry& e = imatrix_.entries[it->second];
  if (e.sums.empty()) {
    e.sums.assign(size_t(stack.n_in * stack.n_mat), 0.0f);
    e.counts.assign(size_t(stack.n_mat), 0);
  }
  return e;
}

void ImatrixRecorder::moe_ffn(const backend::MoeParams& p) {
  const int64_t n_embd = p.gate.n_in, n_ff = p.gate.n_out, n_expert = p.gate.n_mat;
  ImatrixEntry& gate = expert_entry(p.gate);
  ImatrixEntry& up = expert_entry(p.up);
  ImatrixEntry& down = expert_entry(p.down);
  auto fit = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  const size_t slots = size_t(p.rows) * size_t(p.n_used);
  fit(moe_x_, slots * n_embd);
  fit(moe_gate_, slots * n_ff);
  fit(moe_up_, slots * n_ff);
  fit(moe_act_, slots * n_ff);
  for (int64_t e = 0; e < n_expert; ++e) {
    // llama-imatrix's order: routing slot first, then token.
    int64_t count = 0;
    for (int k = 0; k < p.n_used; ++k)
      for (int64_t r = 0; r < p.rows; ++r)
        if (p.expert_ids[r * p.n_used + k] == e) {
          std::copy_n(p.x + r * n_embd, n_embd, moe_x_.data() + count * n_embd);
          ++count;
        }
    if (count == 0) continue;
    inner_.matmul(p.gate.matrix(e), moe_x_.data(), count, moe_gate_.data());
    inner_.matmul(p.up.matrix(e), moe_x_.data(), count, moe_up_.data());
    inner_.gated_activation(backend::Activation::Silu, moe_gate_.data(), moe_up_.data(), n_ff, count, n_ff,
                            moe_act_.data());
    for (int64_t i = 0; i < count; ++i) {
      add_squares(gate.sums.data() + e * n_embd, moe_x_.data() + i * n_embd, n_embd);
      add_squares(up.sums.data() + e * n_embd, moe_x_.data() + i * n_embd, n_embd);
      add_squares(down.sums.data() + e * n_ff, moe_act_.data() + i * n_ff, n_ff);
    }
    gate.counts[size_t(e)] += count;
    up.counts[size_t(e)] += count;
    down.counts[size_t(e)] += count;
  }
  inner_.moe_ffn(p);
}

}  // namespace hearth::quant

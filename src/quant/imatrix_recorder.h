// Collecting an importance matrix while a model runs, as llama-imatrix does
// in its graph callback: a Backend that forwards every op to another one and,
// for each weight matmul, adds the squares of the input activations to that
// weight's per-column sums. The model code is untouched: weights are told
// apart by where their bytes lie in the model file.
//
// llama-imatrix's rules: dense matmuls count only with at least 16 input rows
// and only for weights named blk.* (and output.weight when asked); the expert
// stacks of a MoE layer count every routed token, per expert (gate and up see
// the layer input, down the gated activation), with one count per expert.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "quant/imatrix.h"

namespace hearth::quant {

class ImatrixRecorder : public backend::Backend {
 public:
  // `file` is the model file the weights were loaded from (their data
  // pointers point into it); both must outlive the recorder.
  ImatrixRecorder(backend::Backend& inner, const gguf::File& file, bool include_output);

  // The sums and counts so far (datasets and chunk fields left to the caller).
  const Imatrix& imatrix() const { return imatrix_; }

  std::string name() const override { return inner_.name(); }
  int n_threads() const override { return inner_.n_threads(); }
  void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) override;
  std::shared_ptr<const uint8_t[]> pack(const backend::Weight& w) override { return inner_.pack(w); }
  void matmul(const backend::Weight& w, const float* x, int64_t rows, float* y) override;
  void get_rows(const backend::Weight& table, const int32_t* ids, int64_t n, float* out) override {
    inner_.get_rows(table, ids, n, out);
  }
  void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* y) override {
    inner_.rms_norm(x, weight, rows, n, eps, y);
  }
  void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
            const backend::RopeParams& params) override {
    inner_.rope(x, rows, n_heads, head_dim, positions, params);
  }
  void store_kv(const float* src, int64_t rows, int64_t n, backend::KvView dst, int64_t first_row) override {
    inner_.store_kv(src, rows, n, dst, first_row);
  }
  void attention(const backend::AttentionParams& params) override { inner_.attention(params); }
  void gated_activation(backend::Activation act, const float* gate, const float* up, int64_t stride, int64_t rows,
                        int64_t n, float* out) override {
    inner_.gated_activation(act, gate, up, stride, rows, n, out);
  }
  void moe_ffn(const backend::MoeParams& params) override;
  void hadamard(float* x, int64_t n_values, int block) override { inner_.hadamard(x, n_values, block); }
  void add(float* y, const float* x, int64_t n) override { inner_.add(y, x, n); }
  void add_rows(float* y, const float* bias, int64_t rows, int64_t n) override { inner_.add_rows(y, bias, rows, n); }
  void scale(float* y, float s, int64_t n) override { inner_.scale(y, s, n); }
  void softcap(float* y, float cap, int64_t n) override { inner_.softcap(y, cap, n); }
  void layer_norm(const float* x, const float* w, const float* b, int64_t rows, int64_t n, float eps,
                  float* y) override {
    inner_.layer_norm(x, w, b, rows, n, eps, y);
  }
  void activation(backend::Activation act, const float* x, int64_t n, float* y) override {
    inner_.activation(act, x, n, y);
  }
  void avg_pool_2d(const float* x, int64_t width, int64_t height, int64_t channels, int kernel, float* y) override {
    inner_.avg_pool_2d(x, width, height, channels, kernel, y);
  }

 private:
  // The entry of the weight whose bytes start at `data`, or null when it is
  // not one llama-imatrix collects.
  ImatrixEntry* dense_entry(const uint8_t* data, int64_t n_in);
  ImatrixEntry& expert_entry(const backend::Weight& stack);

  backend::Backend& inner_;
  bool include_output_;
  std::unordered_map<const uint8_t*, std::string> names_;  // tensor data -> tensor name
  Imatrix imatrix_;
  // MoE scratch, grown once to the largest batch.
  std::vector<float> moe_x_, moe_gate_, moe_up_, moe_act_;
};

}  // namespace hearth::quant

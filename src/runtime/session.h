// One sequence being evaluated: the model, a backend, its KV cache and the
// forward workspace, all sized when the session is made. Evaluating tokens
// appends them to the sequence in micro-batches; nothing is allocated per token.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace hearth::runtime {

struct SessionConfig {
  int64_t n_ctx = 2048;
  int64_t n_ubatch = 512;   // tokens per forward pass during prefill
  DType type_k = DType::F16;
  DType type_v = DType::F16;
  bool flash_attn = false;
};

class Session {
 public:
  Session(const model::Model& model, backend::Backend& backend, const SessionConfig& config);

  // Appends tokens. With all_logits, every position's logits go to `logits`
  // ([tokens][n_vocab]); otherwise only the last one's. Throws, with the
  // numbers, when the tokens do not fit in the context.
  void eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);
  // Appends n rows of input embeddings (an image's tokens, [n][n_embd]),
  // without logits. With see_whole_span every row attends to all n (gemma3's
  // images); they then go in one forward pass, so n must fit --ubatch.
  void eval_embeddings(const float* rows, int64_t n, bool see_whole_span);
  // Appends one token and returns its logits (the decode step).
  const float* decode(int32_t token);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return config_.n_ctx; }
  int64_t n_vocab() const { return model_.hparams().n_vocab; }
  void reset() { n_past_ = 0; }
  uint64_t kv_bytes() const { return kv_.bytes(); }

 private:
  const model::Model& model_;
  backend::Backend& backend_;
  SessionConfig config_;
  kv::KvCache kv_;
  model::Workspace workspace_;
  std::vector<int32_t> positions_, output_rows_;
  std::vector<float> step_logits_;
  int64_t n_past_ = 0;
};

}  // namespace hearth::runtime

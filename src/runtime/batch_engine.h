// Several sequences ("slots") evaluated together: each step is one forward
// pass over the new tokens of every active slot, the way a server batches
// conversations. Slot s owns KV rows [s * n_ctx_per_slot, (s + 1) * n_ctx_per_slot).
// Every op is row-wise and attention reads only the token's own slot, so a
// sequence's results do not depend on what else is in the batch.
#pragma once

#include <span>
#include <vector>

#include "backend/backend.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace hearth::runtime {

struct BatchEngineConfig {
  int n_slots = 4;
  int64_t n_ctx_per_slot = 2048;
  int64_t n_batch = 512;  // most tokens in one step
  DType type_k = DType::F16;
  DType type_v = DType::F16;
  bool flash_attn = false;
};

struct SlotInput {
  int slot = 0;
  std::span<const int32_t> tokens;  // appended to that slot's sequence
  bool want_logits = false;         // the logits after its last token
};

class BatchEngine {
 public:
  BatchEngine(const model::Model& model, backend::Backend& backend, const BatchEngineConfig& config);

  // One forward pass over all inputs (their tokens together at most n_batch;
  // at most one input per slot). logits_out gets one row of n_vocab for each
  // input with want_logits, in input order. Throws, with the numbers, when a
  // slot's sequence would outgrow its context.
  void step(std::span<const SlotInput> inputs, std::vector<float>& logits_out);

  int64_t slot_length(int slot) const;
  void truncate(int slot, int64_t length);                       // keep positions [0, length)
  void copy_prefix(int from_slot, int to_slot, int64_t length);  // KV rows [0, length) of every layer

  int n_slots() const { return config_.n_slots; }
  int64_t n_ctx_per_slot() const { return config_.n_ctx_per_slot; }
  int64_t n_batch() const { return config_.n_batch; }
  int64_t n_vocab() const { return model_.hparams().n_vocab; }
  const model::Model& model() const { return model_; }
  uint64_t kv_bytes() const { return kv_.bytes(); }

 private:
  void check_slot(int slot) const;

  const model::Model& model_;
  backend::Backend& backend_;
  BatchEngineConfig config_;
  kv::KvCache kv_;
  model::Workspace workspace_;
  std::vector<int64_t> lengths_;
  std::vector<int32_t> tokens_, positions_, output_rows_;
  std::vector<int64_t> kv_offsets_;
};

}  // namespace hearth::runtime

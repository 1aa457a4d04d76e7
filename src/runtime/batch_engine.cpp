#include "runtime/batch_engine.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace hearth::runtime {

BatchEngine::BatchEngine(const model::Model& model, backend::Backend& backend, const BatchEngineConfig& config)
    : model_(model),
      backend_(backend),
      config_(config),
      kv_(kv::KvConfig{int64_t(config.n_slots) * config.n_ctx_per_slot, config.type_k, config.type_v},
          model.kv_widths_k(), model.kv_widths_v()),
      workspace_(model.make_workspace(config.n_batch)),
      lengths_(config.n_slots, 0) {
  if (config.n_slots <= 0) fail("the number of parallel sequences must be positive, got {}", config.n_slots);
  if (config.n_batch <= 0) fail("the batch size must be positive, got {}", config.n_batch);
  if (!config.flash_attn && dtype_info(config.type_v).quantized)
    fail("a quantized V cache ({}) needs flash attention: add --fa on", dtype_name(config.type_v));
  backend_.reserve(config.n_batch, model.max_row_width(), config.n_ctx_per_slot, model.max_head_dim());
  model.prepare_weights(backend_);
  tokens_.resize(config.n_batch);
  positions_.resize(config.n_batch);
  output_rows_.resize(config.n_batch);
  kv_offsets_.resize(config.n_batch);
}

void BatchEngine::check_slot(int slot) const {
  if (slot < 0 || slot >= config_.n_slots) fail("slot {} does not exist (0..{})", slot, config_.n_slots - 1);
}

void BatchEngine::step(std::span<const SlotInput> inputs, std::vector<float>& logits_out) {
  int64_t n = 0, n_outputs = 0, n_kv = 0;
  std::vector<bool> seen(config_.n_slots, false);
  for (const SlotInput& in : inputs) {
    check_slot(in.slot);
    if (seen[in.slot]) fail("slot {} appears twice in one step", in.slot);
    seen[in.slot] = true;
    const int64_t count = int64_t(in.tokens.size());
    if (lengths_[in.slot] + count > config_.n_ctx_per_slot)
      fail("{} tokens do not fit in the context: {} already used of {} (raise the context size)", count,
           lengths_[in.slot], config_.n_ctx_per_slot);
    n += count;
    n_kv = std::max(n_kv, lengths_[in.slot] + count);
    if (in.want_logits && count == 0) fail("slot {} asks for logits but gives no tokens", in.slot);
  }
  if (n > config_.n_batch) fail("internal: a step of {} tokens exceeds the batch size {}", n, config_.n_batch);
  if (n == 0) return;

  int64_t i = 0;
  for (const SlotInput& in : inputs) {
    for (size_t t = 0; t < in.tokens.size(); ++t, ++i) {
      tokens_[i] = in.tokens[t];
      positions_[i] = int32_t(lengths_[in.slot] + int64_t(t));
      kv_offsets_[i] = int64_t(in.slot) * config_.n_ctx_per_slot;
    }
    if (in.want_logits) output_rows_[n_outputs++] = int32_t(i - 1);
  }
  const int64_t n_vocab = model_.hparams().n_vocab;
  for (int64_t j = 0; j < n; ++j)
    if (tokens_[j] < 0 || tokens_[j] >= n_vocab) fail("token id {} is outside the vocabulary of {}", tokens_[j], n_vocab);
  logits_out.resize(size_t(n_outputs) * n_vocab);

  model::Batch batch;
  batch.tokens = tokens_.data();
  batch.positions = positions_.data();
  batch.kv_offsets = kv_offsets_.data();
  batch.n = n;
  batch.output_rows = output_rows_.data();
  batch.n_outputs = n_outputs;
  batch.n_kv = n_kv;
  model::ForwardContext ctx{backend_, kv_, workspace_, config_.flash_attn};
  model_.forward(ctx, batch, logits_out.data());
  for (const SlotInput& in : inputs) lengths_[in.slot] += int64_t(in.tokens.size());
}

int64_t BatchEngine::slot_length(int slot) const {
  check_slot(slot);
  return lengths_[slot];
}

void BatchEngine::truncate(int slot, int64_t length) {
  check_slot(slot);
  if (length < 0 || length > lengths_[slot])
    fail("cannot keep {} positions of slot {}, which holds {}", length, slot, lengths_[slot]);
  lengths_[slot] = length;
}

void BatchEngine::copy_prefix(int from_slot, int to_slot, int64_t length) {
  check_slot(from_slot);
  check_slot(to_slot);
  if (length < 0 || length > lengths_[from_slot])
    fail("cannot copy {} positions from slot {}, which holds {}", length, from_slot, lengths_[from_slot]);
  if (from_slot != to_slot) {
    for (int layer = 0; layer < model_.hparams().n_layer; ++layer) {
      for (backend::KvView view : {kv_.k(layer), kv_.v(layer)}) {
        const size_t slot_bytes = view.row_bytes * size_t(config_.n_ctx_per_slot);
        std::memcpy(view.data + size_t(to_slot) * slot_bytes, view.data + size_t(from_slot) * slot_bytes,
                    view.row_bytes * size_t(length));
      }
    }
  }
  lengths_[to_slot] = length;
}

}  // namespace hearth::runtime

#include "runtime/batch_engine.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.h"

namespace hearth::runtime {

namespace {

int block_shift_of(int block_size) {
  if (block_size <= 0 || (block_size & (block_size - 1)) != 0)
    fail("the KV block size must be a power of two, got {}", block_size);
  int shift = 0;
  while ((1 << shift) < block_size) ++shift;
  return shift;
}

int64_t positive_batch(int64_t n_batch) {
  if (n_batch <= 0) fail("the batch size must be positive, got {}", n_batch);
  return n_batch;
}

int64_t blocks_for(int64_t tokens, int block_size) { return (tokens + block_size - 1) / block_size; }

int window_of(const model::Model& model) {
  return model.has_sliding_layers() ? model.hparams().sliding_window : 0;
}

int64_t sliding_blocks_for(const BatchEngineConfig& c, int window) {
  if (window <= 0) return 0;
  // The window before a step's first query, one more block (see trim_window),
  // and the step's own tokens (at most n_batch), in blocks that need not be
  // aligned to either.
  return std::min(blocks_for(c.n_ctx_per_slot, c.kv_block_size),
                  (int64_t(window) + c.n_batch - 2) / c.kv_block_size + 3);
}

int32_t sliding_pool_blocks(const BatchEngineConfig& c, int window) {
  if (window <= 0) return 1;
  const int64_t n = int64_t(c.n_slots) * sliding_blocks_for(c, window) + 1 + c.n_cache_blocks;
  if (n > INT32_MAX) fail("a KV cache of {} blocks is too large", n);
  return int32_t(n);
}

int32_t pool_blocks(const BatchEngineConfig& c) {
  if (c.n_slots <= 0) fail("the number of parallel sequences must be positive, got {}", c.n_slots);
  if (c.n_ctx_per_slot <= 0) fail("context size must be positive, got {}", c.n_ctx_per_slot);
  if (c.n_cache_blocks < 0) fail("the prefix cache size must not be negative, got {} blocks", c.n_cache_blocks);
  block_shift_of(c.kv_block_size);
  // Every slot can fill its context, plus one block for the source of a
  // prefix copy while the copy's destination is allocated.
  const int64_t n = int64_t(c.n_slots) * blocks_for(c.n_ctx_per_slot, c.kv_block_size) + 1 + c.n_cache_blocks;
  if (n > INT32_MAX) fail("a KV cache of {} blocks is too large", n);
  return int32_t(n);
}

}  // namespace

namespace {

// The host backend made ready for the model (scratch, packed weights) before
// the CPU DeviceBackend over it is made.
std::unique_ptr<backend::DeviceBackend> prepared_host_device(const model::Model& model, backend::Backend& backend,
                                                             const BatchEngineConfig& config) {
  backend.reserve(std::max<int64_t>(1, config.n_batch), model.max_row_width(), config.n_ctx_per_slot,
                  model.max_head_dim());
  // The backend's own weight layouts (the CPU's 8-row packing), as Session
  // asks for them: without this the server multiplied the file's layout,
  // at about half the decode speed of `hearth run` and `hearth bench`.
  model.prepare_weights(backend);
  return backend::make_host_device_backend(backend);
}

}  // namespace

BatchEngine::BatchEngine(const model::Model& model, backend::Backend& backend, const BatchEngineConfig& config)
    : BatchEngine(model, prepared_host_device(model, backend, config), {}, config) {}

BatchEngine::BatchEngine(const model::Model& model, backend::DeviceBackend& device, const BatchEngineConfig& config)
    : BatchEngine(model, nullptr,
                  std::span<const model::LayerPlacement>(
                      std::array{model::LayerPlacement{&device, 0, model.hparams().n_layer}}),
                  config) {}

BatchEngine::BatchEngine(const model::Model& model, std::span<const model::LayerPlacement> split,
                         const BatchEngineConfig& config)
    : BatchEngine(model, nullptr, split, config) {}

BatchEngine::BatchEngine(const model::Model& model, std::unique_ptr<backend::DeviceBackend> owned,
                         std::span<const model::LayerPlacement> split, const BatchEngineConfig& config)
    : model_(model),
      owned_device_(std::move(owned)),
      config_(config),
      bs_(config.kv_block_size),
      block_shift_(block_shift_of(config.kv_block_size)),
      blocks_per_slot_(blocks_for(config.n_ctx_per_slot, config.kv_block_size)),
      window_(window_of(model)),
      sliding_blocks_per_slot_(sliding_blocks_for(config, window_)),
      pool_(pool_blocks(config)),
      sliding_pool_(sliding_pool_blocks(config, window_)),
      cache_(pool_, config.kv_block_size, window_ > 0 ? &sliding_pool_ : nullptr, window_),
      parts_(model,
             owned_device_ ? std::vector{model::LayerPlacement{owned_device_.get(), 0, model.hparams().n_layer}}
                           : std::vector<model::LayerPlacement>(split.begin(), split.end()),
             kv::KvConfig{int64_t(pool_.n_blocks()) * config.kv_block_size, config.type_k, config.type_v},
             model.kv_rows(int64_t(pool_.n_blocks()) * config.kv_block_size,
                           int64_t(sliding_pool_.n_blocks()) * config.kv_block_size),
             positive_batch(config.n_batch), config.flash_attn),
      lengths_(config.n_slots, 0) {
  for (const auto& part : parts_.parts)
    part->placement.dev->reserve(config.n_batch, model.max_row_width(), config.n_ctx_per_slot, model.max_head_dim());
  if (!config.flash_attn && dtype_info(config.type_v).quantized)
    fail("a quantized V cache ({}) needs flash attention: add --fa on", dtype_name(config.type_v));
  tables_.assign(size_t(config.n_slots) * size_t(blocks_per_slot_), -1);
  table_sizes_.assign(size_t(config.n_slots), 0);
  blocks_cached_.assign(size_t(config.n_slots), 0);
  tokens_held_.assign(size_t(config.n_slots) * size_t(config.n_ctx_per_slot), 0);
  sliding_tables_.assign(size_t(config.n_slots) * size_t(blocks_per_slot_), -1);
  sliding_first_.assign(size_t(config.n_slots), 0);
  tokens_.resize(config.n_batch);
  positions_.resize(config.n_batch);
  output_rows_.resize(config.n_batch);
  token_tables_.resize(config.n_batch);
  token_sliding_tables_.resize(config.n_batch);
  embedding_rows_.resize(config.n_batch);
  last_visible_.resize(config.n_batch);
  seen_.resize(size_t(config.n_slots));
}

void BatchEngine::check_slot(int slot) const {
  if (slot < 0 || slot >= config_.n_slots) fail("slot {} does not exist (0..{})", slot, config_.n_slots - 1);
}

void BatchEngine::ensure_free(int64_t n) {
  if (pool_.n_free() < n) cache_.evict(int32_t(n - pool_.n_free()));
  if (pool_.n_free() < n)
    fail("internal: {} KV blocks are needed but only {} are free ({} cached, {} evictable)", n, pool_.n_free(),
         cache_.cached_blocks(), cache_.evictable_blocks());
}

void BatchEngine::ensure_sliding_free(int64_t n) {
  if (sliding_pool_.n_free() < n) cache_.evict_sliding(int32_t(n - sliding_pool_.n_free()));
  if (sliding_pool_.n_free() < n)
    fail("internal: {} sliding-window KV blocks are needed but only {} are free ({} cached, {} evictable)", n,
         sliding_pool_.n_free(), cache_.cached_sliding_blocks(), cache_.evictable_sliding_blocks());
}

void BatchEngine::trim_window(int slot) {
  if (window_ <= 0) return;
  // The next query, at position length, sees keys from length - window + 1
  // on; one block more is kept so that the window stays whole for resuming up
  // to a block before the end (where a chat template re-rendering the reply
  // parts from the tokens generated).
  const int64_t keep_from = std::max<int64_t>(0, lengths_[slot] - window_ + 1 - bs_) >> block_shift_;
  int64_t& first = sliding_first_[size_t(slot)];
  const int64_t end = std::min(keep_from, table_sizes_[size_t(slot)]);
  for (; first < end; ++first) {
    int32_t& block = sliding_table(slot)[first];
    if (block < 0) continue;
    if (first < blocks_cached_[size_t(slot)]) cache_.forget_window_block(table(slot)[first], block);
    sliding_pool_.unref(block);
    block = -1;
  }
  first = std::max(first, keep_from);
}

int64_t BatchEngine::sliding_blocks_held(int slot) const {
  check_slot(slot);
  int64_t held = 0;
  const int32_t* t = sliding_tables_.data() + size_t(slot) * size_t(blocks_per_slot_);
  for (int64_t b = 0; b < table_sizes_[size_t(slot)]; ++b) held += t[b] >= 0;
  return held;
}

KvMemory BatchEngine::slot_kv_memory(const model::Model& model, const BatchEngineConfig& config) {
  const int64_t global_rows = blocks_for(config.n_ctx_per_slot, config.kv_block_size) * config.kv_block_size;
  return kv_memory(model, global_rows, sliding_blocks_for(config, window_of(model)) * config.kv_block_size,
                   config.type_k, config.type_v);
}

uint64_t BatchEngine::kv_bytes_per_slot() const { return slot_kv_memory(model_, config_).bytes(); }

void BatchEngine::step(std::span<const SlotInput> inputs, std::vector<float>& logits_out) {
  int64_t n = 0, n_outputs = 0, n_kv = 0, new_blocks = 0;
  std::fill(seen_.begin(), seen_.end(), uint8_t(0));
  for (const SlotInput& in : inputs) {
    check_slot(in.slot);
    if (seen_[size_t(in.slot)]) fail("slot {} appears twice in one step", in.slot);
    seen_[size_t(in.slot)] = 1;
    const int64_t count = int64_t(in.tokens.size());
    if (lengths_[in.slot] + count > config_.n_ctx_per_slot)
      fail("{} tokens do not fit in the context: {} already used of {} (raise the context size)", count,
           lengths_[in.slot], config_.n_ctx_per_slot);
    n += count;
    n_kv = std::max(n_kv, lengths_[in.slot] + count);
    if (in.want_logits && count == 0) fail("slot {} asks for logits but gives no tokens", in.slot);
    new_blocks += std::max<int64_t>(0, blocks_for(lengths_[in.slot] + count, bs_) - table_sizes_[size_t(in.slot)]);
  }
  if (n > config_.n_batch) fail("internal: a step of {} tokens exceeds the batch size {}", n, config_.n_batch);
  if (n == 0) return;
  const int64_t n_vocab = model_.hparams().n_vocab;
  bool any_embeddings = false, any_visibility = false;
  for (const SlotInput& in : inputs) {
    any_embeddings |= in.embeddings != nullptr;
    any_visibility |= in.last_visible != nullptr;
    for (size_t t = 0; t < in.tokens.size(); ++t)
      if ((in.tokens[t] < 0 || in.tokens[t] >= n_vocab) && !(in.embeddings && in.embeddings[t]))
        fail("token id {} is outside the vocabulary of {}", in.tokens[t], n_vocab);
  }

  // Blocks for the rows this step writes.
  ensure_free(new_blocks);
  if (window_ > 0) ensure_sliding_free(new_blocks);
  for (const SlotInput& in : inputs) {
    const int64_t needed = blocks_for(lengths_[in.slot] + int64_t(in.tokens.size()), bs_);
    for (int64_t& size = table_sizes_[size_t(in.slot)]; size < needed; ++size) {
      table(in.slot)[size] = pool_.allocate();
      if (window_ > 0) sliding_table(in.slot)[size] = sliding_pool_.allocate();
    }
  }

  int64_t i = 0;
  for (const SlotInput& in : inputs) {
    for (size_t t = 0; t < in.tokens.size(); ++t, ++i) {
      tokens_[i] = in.tokens[t];
      positions_[i] = int32_t(lengths_[in.slot] + int64_t(t));
      token_tables_[i] = table(in.slot);
      token_sliding_tables_[i] = sliding_table(in.slot);
      if (any_embeddings) embedding_rows_[i] = in.embeddings ? in.embeddings[t] : nullptr;
      if (any_visibility) last_visible_[i] = in.last_visible ? in.last_visible[t] : positions_[i];
    }
    if (in.want_logits) output_rows_[n_outputs++] = int32_t(i - 1);
  }
  logits_out.resize(size_t(n_outputs) * n_vocab);

  model::Batch batch;
  batch.tokens = tokens_.data();
  batch.positions = positions_.data();
  batch.block_tables = token_tables_.data();
  batch.kv_block_shift = block_shift_;
  batch.table_width = blocks_per_slot_;
  if (window_ > 0) {
    batch.swa_block_tables = token_sliding_tables_.data();
    batch.swa_kv_block_shift = block_shift_;
    batch.swa_table_width = blocks_per_slot_;
  }
  batch.n = n;
  batch.output_rows = output_rows_.data();
  batch.n_outputs = n_outputs;
  batch.n_kv = n_kv;
  batch.embeddings = any_embeddings ? embedding_rows_.data() : nullptr;
  batch.last_visible = any_visibility ? last_visible_.data() : nullptr;
  model_.forward(parts_.contexts, batch, logits_out.data());
  for (const SlotInput& in : inputs) {
    std::copy(in.tokens.begin(), in.tokens.end(), slot_tokens(in.slot) + lengths_[in.slot]);
    lengths_[in.slot] += int64_t(in.tokens.size());
    trim_window(in.slot);  // first: the cache takes only sliding blocks still in the window
    cache_full_blocks(in.slot);
  }
}

void BatchEngine::cache_full_blocks(int slot) {
  const int64_t full = lengths_[slot] / bs_;
  if (full <= blocks_cached_[size_t(slot)]) return;
  cache_.insert(std::span<const int32_t>(slot_tokens(slot), size_t(full * bs_)),
                std::span<int32_t>(table(slot), size_t(full)),
                window_ > 0 ? std::span<int32_t>(sliding_table(slot), size_t(full)) : std::span<int32_t>());
  blocks_cached_[size_t(slot)] = full;
}

int64_t BatchEngine::slot_length(int slot) const {
  check_slot(slot);
  return lengths_[slot];
}

int64_t BatchEngine::cached_prefix(std::span<const int32_t> prompt) const {
  const int64_t limit = std::min<int64_t>(int64_t(prompt.size()) - 1, config_.n_ctx_per_slot - 1);
  if (limit <= 0) return 0;
  return cache_.peek(prompt, limit).tokens(bs_);
}

void BatchEngine::start_from_cache(int slot, std::span<const int32_t> prompt, int64_t length) {
  check_slot(slot);
  if (lengths_[slot] != 0 || table_sizes_[size_t(slot)] != 0) fail("internal: slot {} is not empty", slot);
  if (length <= 0) return;
  if (length > int64_t(prompt.size()) || length >= config_.n_ctx_per_slot)
    fail("internal: cannot reuse {} tokens of a {}-token prompt", length, prompt.size());
  const kv::RadixCache::Match m = cache_.acquire(prompt, length, table(slot), sliding_table(slot));
  table_sizes_[size_t(slot)] = m.n_shared;
  blocks_cached_[size_t(slot)] = m.n_shared;
  sliding_first_[size_t(slot)] = m.sliding_first;
  if (m.copy_rows > 0) {
    // The rows of the last, partial block are copied: this slot writes the rest of it.
    ensure_free(1);
    const int32_t block = pool_.allocate();
    int32_t sliding_block = -1;
    if (window_ > 0) {
      ensure_sliding_free(1);
      sliding_block = sliding_pool_.allocate();
      sliding_table(slot)[m.n_shared] = sliding_block;
    }
    table(slot)[m.n_shared] = block;
    table_sizes_[size_t(slot)] += 1;
    for (int layer = 0; layer < model_.hparams().n_layer; ++layer) {
      const bool sliding = window_ > 0 && model_.layer_sliding(layer);
      const int64_t to = sliding ? sliding_block : block, from = sliding ? m.copy_sliding_from : m.copy_from;
      const kv::KvCache& kv = DevicePart::kv_of(parts_.parts, layer);  // on the device running the layer
      for (const backend::DeviceTensor& cache : {kv.k(layer), kv.v(layer)})
        DevicePart::device_of(parts_.parts, layer)
            .copy_rows(cache.row_range(from * bs_, m.copy_rows), cache.row_range(to * bs_, m.copy_rows));
    }
    pool_.unref(m.copy_from);
    if (window_ > 0) sliding_pool_.unref(m.copy_sliding_from);
  }
  lengths_[slot] = m.tokens(bs_);
  std::copy(prompt.begin(), prompt.begin() + lengths_[slot], slot_tokens(slot));
  if (lengths_[slot] != length) {
    const int64_t got = lengths_[slot];
    release(slot, false);
    fail("internal: the prefix cache holds {} tokens of this prompt, not {}", got, length);
  }
}

void BatchEngine::release(int slot, bool keep_in_cache) {
  check_slot(slot);
  int32_t* blocks = table(slot);
  const size_t n_blocks = size_t(blocks_for(lengths_[slot], bs_));
  // The sliding blocks it holds are the window before its end: pinned there.
  if (keep_in_cache && lengths_[slot] > 0)
    cache_.insert(std::span<const int32_t>(slot_tokens(slot), size_t(lengths_[slot])),
                  std::span<int32_t>(blocks, n_blocks),
                  window_ > 0 ? std::span<int32_t>(sliding_table(slot), n_blocks) : std::span<int32_t>(),
                  /*pinned=*/true);
  for (int64_t b = 0; b < table_sizes_[size_t(slot)]; ++b) {
    pool_.unref(blocks[b]);
    int32_t& sliding = sliding_table(slot)[b];
    if (window_ > 0 && sliding >= 0) sliding_pool_.unref(sliding);
    sliding = -1;
  }
  table_sizes_[size_t(slot)] = 0;
  sliding_first_[size_t(slot)] = 0;
  blocks_cached_[size_t(slot)] = 0;
  lengths_[slot] = 0;
}

}  // namespace hearth::runtime

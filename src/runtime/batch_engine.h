// Several sequences ("slots") evaluated together: each step is one forward
// pass over the new tokens of every active slot, the way a server batches
// conversations. The KV cache is paged: a pool of blocks of kv_block_size
// rows, and each slot a block table (its position p lives in row
// p % bs of block table[p / bs]). Every op is row-wise and attention reads
// only the token's own sequence, so a sequence's results do not depend on
// what else is in the batch.
//
// Prefix cache: the slots' full blocks go into a radix tree (kv::RadixCache)
// as they fill, and a finished sequence's whole KV when its slot is released.
// A new sequence starts from the longest cached prefix of its prompt: full
// blocks are shared in place, the rows of a last partial block are copied.
// The pool holds n_slots * ceil(n_ctx_per_slot / bs) + 1 blocks plus
// n_cache_blocks: whatever the tree holds, every slot can always grow to its
// whole context (least recently used cached blocks are evicted as needed).
//
// Sliding-window models: the sliding-window layers' KV lives in a pool of its
// own, and a slot holds only the blocks its next query still sees (the last
// window - 1 positions) plus those a step writes; blocks that fall out of the
// window go back to the pool (or stay in the prefix cache as the window before
// a resumable point, see kv::RadixCache). That pool holds
// n_slots * sliding_blocks_per_slot + 1 + n_cache_blocks blocks, with
// sliding_blocks_per_slot = min(ceil(n_ctx / bs), (window + n_batch - 2) / bs + 3)
// (one block more than the window needs, so that a conversation can resume a
// little before its end).
#pragma once

#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "kv/block_pool.h"
#include "kv/kv_cache.h"
#include "kv/radix_cache.h"
#include "model/model.h"
#include "runtime/device_part.h"
#include "runtime/kv_memory.h"

namespace hearth::runtime {

struct BatchEngineConfig {
  int n_slots = 4;
  int64_t n_ctx_per_slot = 2048;
  int64_t n_batch = 512;  // most tokens in one step
  DType type_k = DType::F16;
  DType type_v = DType::F16;
  bool flash_attn = false;
  int kv_block_size = 16;      // KV rows per block: a power of two
  int64_t n_cache_blocks = 0;  // extra blocks for the prefix cache beyond the slots' contexts
};

struct SlotInput {
  int slot = 0;
  std::span<const int32_t> tokens;  // appended to that slot's sequence
  bool want_logits = false;         // the logits after its last token
  // Image tokens: where embeddings[t] is set, token t's input row is that
  // (n_embd floats) and tokens[t] is only its prefix-cache key (negative
  // ids, derived from the image's content hash). Null: all text.
  const float* const* embeddings = nullptr;
  // The last position each token attends to (an image's tokens: the image's
  // last); null: causal.
  const int32_t* last_visible = nullptr;
};

class BatchEngine {
 public:
  // On the CPU DeviceBackend over a host backend (make_host_device_backend).
  BatchEngine(const model::Model& model, backend::Backend& backend, const BatchEngineConfig& config);
  // On a device the caller owns.
  BatchEngine(const model::Model& model, backend::DeviceBackend& device, const BatchEngineConfig& config);
  // Across devices the caller owns, each holding its layers' weights and KV
  // blocks (model::LayerPlacement, as Session takes it).
  BatchEngine(const model::Model& model, std::span<const model::LayerPlacement> split,
              const BatchEngineConfig& config);

  // One forward pass over all inputs (their tokens together at most n_batch;
  // at most one input per slot). logits_out gets one row of n_vocab for each
  // input with want_logits, in input order. Throws, with the numbers, when a
  // slot's sequence would outgrow its context.
  void step(std::span<const SlotInput> inputs, std::vector<float>& logits_out);

  int64_t slot_length(int slot) const;

  // Tokens of `prompt` a new sequence can take from the prefix cache: its
  // longest common prefix with what the cache holds, never the last token
  // (its logits are needed).
  int64_t cached_prefix(std::span<const int32_t> prompt) const;
  // Starts an empty slot on the first `length` tokens of `prompt`, taken
  // from the cache (length <= cached_prefix(prompt)).
  void start_from_cache(int slot, std::span<const int32_t> prompt, int64_t length);
  // Ends a slot's sequence, leaving it empty. With keep_in_cache its KV stays
  // in the prefix cache for later sequences; else its private blocks are freed.
  void release(int slot, bool keep_in_cache = true);

  int kv_block_size() const { return bs_; }
  const kv::BlockPool& blocks() const { return pool_; }
  // The sliding-window layers' pool (one unused block when the model has none).
  const kv::BlockPool& sliding_blocks() const { return sliding_pool_; }
  int64_t sliding_blocks_per_slot() const { return sliding_blocks_per_slot_; }
  // KV bytes one conversation can take at most: a whole context on global
  // layers, sliding_blocks_per_slot blocks on sliding-window ones.
  uint64_t kv_bytes_per_slot() const;
  // The same by layer kind, before an engine exists (for planning and the
  // startup message).
  static KvMemory slot_kv_memory(const model::Model& model, const BatchEngineConfig& config);
  // Sliding blocks slot holds now (tests).
  int64_t sliding_blocks_held(int slot) const;
  const kv::RadixCache& prefix_cache() const { return cache_; }
  int n_slots() const { return config_.n_slots; }
  int64_t n_ctx_per_slot() const { return config_.n_ctx_per_slot; }
  int64_t n_batch() const { return config_.n_batch; }
  int64_t n_vocab() const { return model_.hparams().n_vocab; }
  const model::Model& model() const { return model_; }
  uint64_t kv_bytes() const { return parts_.kv_bytes(); }

 private:
  // Runs the split, or every layer on `owned` when it is set.
  BatchEngine(const model::Model& model, std::unique_ptr<backend::DeviceBackend> owned,
              std::span<const model::LayerPlacement> split, const BatchEngineConfig& config);
  void check_slot(int slot) const;
  int32_t* table(int slot) { return tables_.data() + size_t(slot) * size_t(blocks_per_slot_); }
  int32_t* slot_tokens(int slot) { return tokens_held_.data() + size_t(slot) * size_t(config_.n_ctx_per_slot); }
  int32_t* sliding_table(int slot) { return sliding_tables_.data() + size_t(slot) * size_t(blocks_per_slot_); }
  // Makes n blocks free, evicting cached ones; throws if that is impossible.
  void ensure_free(int64_t n);
  void ensure_sliding_free(int64_t n);
  // Gives back the slot's sliding blocks its next query no longer sees.
  void trim_window(int slot);
  // Offers the slot's newly filled blocks to the prefix cache.
  void cache_full_blocks(int slot);

  const model::Model& model_;
  std::unique_ptr<backend::DeviceBackend> owned_device_;  // over a host Backend, or null
  BatchEngineConfig config_;
  int bs_ = 0, block_shift_ = 0;
  int64_t blocks_per_slot_ = 0;
  int window_ = 0;  // the sliding window when the model has sliding layers, else 0
  int64_t sliding_blocks_per_slot_ = 0;
  kv::BlockPool pool_;
  kv::BlockPool sliding_pool_;
  kv::RadixCache cache_;
  DeviceParts parts_;  // each device's layers: weights, KV blocks, workspace, forward context
  std::vector<int64_t> lengths_;
  std::vector<int32_t> tables_;        // [n_slots][blocks_per_slot]
  std::vector<int64_t> table_sizes_;   // blocks in each slot's table
  std::vector<int64_t> blocks_cached_; // leading full blocks of each slot already in the cache
  std::vector<int32_t> tokens_held_;   // [n_slots][n_ctx_per_slot]: the tokens in each slot's KV
  std::vector<int32_t> sliding_tables_;  // [n_slots][blocks_per_slot]: sliding blocks, -1 where not held
  std::vector<int64_t> sliding_first_;   // each slot's first held sliding block
  std::vector<int32_t> tokens_, positions_, output_rows_;
  std::vector<const int32_t*> token_tables_, token_sliding_tables_;
  std::vector<const float*> embedding_rows_;  // per batch row, for steps with image tokens
  std::vector<int32_t> last_visible_;
  std::vector<uint8_t> seen_;
};

}  // namespace hearth::runtime

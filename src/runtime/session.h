// One sequence being evaluated: the model, a device backend, its KV cache and
// the forward workspace (on that device), all sized when the session is made.
// Evaluating tokens appends them to the sequence in micro-batches; nothing is
// allocated per token. Given a host Backend, the session runs on the CPU
// DeviceBackend over it (make_host_device_backend). Given a split
// (model::LayerPlacement list), each device holds the weights, KV and a
// workspace for its own layers, and the forward crosses devices at the
// boundaries.
//
// Global layers keep every position (row p holds position p). Sliding-window
// layers keep a ring of window + micro-batch - 1 rows (position p in row
// p mod ring): a micro-batch's writes then never overwrite a key one of its
// queries still sees.
#pragma once

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "runtime/device_part.h"
#include "runtime/kv_memory.h"

namespace hearth::runtime {

struct SessionConfig {
  int64_t n_ctx = 2048;
  int64_t n_ubatch = 512;   // tokens per forward pass during prefill
  DType type_k = DType::F16;
  DType type_v = DType::F16;
  bool flash_attn = false;
};

// The host backend made ready for the model's layers [first_layer,
// end_layer) (-1: through the last) and, with output, the output (scratch,
// packed weights), as the CPU DeviceBackend a split's CPU part runs on.
std::unique_ptr<backend::DeviceBackend> make_prepared_host_device(const model::Model& model, backend::Backend& backend,
                                                                  const SessionConfig& config, int first_layer = 0,
                                                                  int end_layer = -1, bool output = true);

class Session {
 public:
  Session(const model::Model& model, backend::Backend& backend, const SessionConfig& config);
  // On a device the caller owns (a Vulkan device, a CPU DeviceBackend).
  Session(const model::Model& model, backend::DeviceBackend& device, const SessionConfig& config);
  // Across devices the caller owns: each placement's layers, and their KV,
  // on its device (a CPU part made with make_prepared_host_device).
  Session(const model::Model& model, std::span<const model::LayerPlacement> split, const SessionConfig& config);

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
  // Keeps the first n tokens and forgets the rest (the next eval overwrites
  // their KV rows), so a conversation's next turn evaluates only what changed.
  // Returns the tokens actually kept: with sliding-window layers in a ring,
  // the window before n may already be overwritten by the tokens after it;
  // then nothing is kept (0) and the caller evaluates from the start.
  int64_t truncate(int64_t n);
  uint64_t kv_bytes() const;
  // Where the layers run: one placement per device, in layer order.
  std::vector<model::LayerPlacement> placement() const;
  KvMemory kv_memory() const;
  // Rows a sliding-window layer holds (n_ctx when there is no ring).
  int64_t sliding_rows() const { return sliding_rows_; }
  // The rows of a sliding-window layer: window + n_ubatch - 1, at most n_ctx.
  static int64_t sliding_rows_for(int64_t window, int64_t n_ctx, int64_t n_ubatch);

 private:
  // Runs the split, or every layer on `owned` when the split is empty.
  Session(const model::Model& model, std::unique_ptr<backend::DeviceBackend> owned,
          std::span<const model::LayerPlacement> split, const SessionConfig& config);

  const model::Model& model_;
  std::unique_ptr<backend::DeviceBackend> owned_device_;  // over a host Backend, or null
  SessionConfig config_;
  int64_t sliding_rows_ = 0;  // before parts_, whose KV is sized from it
  DeviceParts parts_;         // the devices' shares: weights, KV, workspace, forward contexts
  int64_t max_rows_ = 0;      // rows per forward pass
  std::vector<int32_t> positions_, output_rows_;
  std::vector<int32_t> ring_;                 // [n_ctx]: ring row of each position (sliding layers)
  std::vector<const int32_t*> ring_tables_;   // every token's table: ring_
  std::vector<float> step_logits_;
  int64_t n_past_ = 0;
};

}  // namespace hearth::runtime

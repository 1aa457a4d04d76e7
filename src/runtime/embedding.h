// Sentence embeddings from an encoder model (hparams().encoder): the whole
// text in one forward pass (attention sees every token, so it cannot be cut
// into micro-batches), the hidden states pooled as the GGUF declares (mean,
// CLS or last token) and L2-normalised, as llama.cpp's llama-embedding does
// by default.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace hearth::runtime {

enum class Pooling { None = 0, Mean = 1, Cls = 2, Last = 3 };
const char* pooling_name(Pooling pooling);

class Embedder {
 public:
  // Sized for texts of up to max_tokens tokens (at most the training context);
  // runs on the CPU DeviceBackend over `backend`.
  Embedder(const model::Model& model, backend::Backend& backend, int64_t max_tokens);

  // One vector of n_embd values for the tokens; throws, with both numbers,
  // when they exceed max_tokens. Pooling None is treated as mean.
  std::vector<float> embed(std::span<const int32_t> tokens, bool normalize = true);

  int64_t max_tokens() const { return max_tokens_; }
  int64_t n_embd() const { return model_.hparams().n_embd; }
  Pooling pooling() const { return pooling_; }

 private:
  const model::Model& model_;
  int64_t max_tokens_;
  std::unique_ptr<backend::DeviceBackend> device_;
  Pooling pooling_;
  model::DeviceWeights weights_;
  kv::KvCache kv_;
  model::Workspace workspace_;
  std::vector<int32_t> positions_, output_rows_;
  std::vector<float> hidden_;
};

}  // namespace hearth::runtime

// Reading hyper-parameters and weights out of a GGUF file, with errors that
// name the key or tensor and what was expected.
#pragma once

#include <string>

#include "gguf/gguf.h"
#include "model/model.h"

namespace hearth::model {

// The keys every decoder-only architecture shares ({arch}.block_count, ...).
HParams read_common_hparams(const gguf::File& file, const std::string& arch);

class WeightLoader {
 public:
  explicit WeightLoader(const gguf::File& file) : file_(file) {}
  // A 2-D (or 3-D stacked) weight that must be n_in x n_out (x n_mat).
  Weight matrix(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_mat = 1) const;
  Weight optional_matrix(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_mat = 1) const;
  // A 1-D f32 vector of n (norm weights, biases, rope factors).
  const float* vector(const std::string& name, int64_t n) const;
  const float* optional_vector(const std::string& name, int64_t n) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

 private:
  const gguf::File& file_;
};

std::string layer_tensor(int layer, const char* name);  // "blk.3.attn_q.weight"

// Loads the weights every llama-like architecture shares (embeddings, norms,
// attention, dense or MoE feed-forward), accepting the optional tensors
// (biases, q/k norms, post norms, fused qkv) where the file has them.
Weights load_decoder_weights(const gguf::File& file, const HParams& hp);

}  // namespace hearth::model

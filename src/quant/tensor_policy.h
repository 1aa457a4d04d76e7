// Which type each tensor of a model gets when quantizing to a llama.cpp file
// type ("Q4_K_M"), following llama-quantize's rules (src/llama-quant.cpp):
// what may be quantized at all, the output/embedding choice, the _S/_M/_L
// mixes that give some layers more bits, and the fallbacks for rows whose
// length is not a multiple of the block size. Also the tensor order
// llama-quantize writes, so files come out laid out as llama.cpp's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf.h"

namespace hearth::quant {

// A file type hearth can quantize to: its name, its llama_ftype id (the
// general.file_type value) and the type most tensors get.
struct QuantTarget {
  std::string_view name;  // "Q4_K_M"
  int64_t file_type;      // llama_ftype, e.g. 15
  DType default_type;     // e.g. Q4_K
};

// Looks a target up by name, case-insensitively; accepts llama-quantize's
// aliases Q3_K, Q4_K, Q5_K (the _M mixes).
std::optional<QuantTarget> quant_target_from_name(std::string_view name);
// Every accepted name, for error messages and help.
std::vector<std::string_view> quant_target_names();

// The hyper-parameters the rules look at, read from the model's metadata.
struct ModelTraits {
  std::string arch;      // general.architecture
  int n_layer = 0;       // <arch>.block_count
  int n_expert = 0;      // <arch>.expert_count (0 for dense models)
  int n_head = 0;        // <arch>.attention.head_count (layer 0 when per layer)
  int n_head_kv = 0;     // <arch>.attention.head_count_kv (defaults to n_head)
  bool is_llama_70b = false;  // llama.cpp's LLM_TYPE_70B: llama, 80 layers, GQA

  int n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};
ModelTraits model_traits(const gguf::Metadata& metadata);

struct TensorShape {
  std::string name;
  DType type = DType::F32;         // the type in the input file
  std::vector<uint64_t> shape;     // ggml order, ne[0] = row length
};

// The type of every tensor (same order as `tensors`, which must already be
// in write order: the per-layer counters of the mixes depend on it). Throws
// when a row length fits neither the chosen type nor any fallback llama.cpp
// defines for it.
// `has_imatrix`: an importance matrix is given (some mixes choose differently then).
std::vector<DType> choose_tensor_types(const QuantTarget& target, const ModelTraits& traits,
                                       const std::vector<TensorShape>& tensors, bool has_imatrix = false);

// llama-quantize's tensor order (its loader's map of weights): tensors
// outside blocks first, then block by block (blk.N numerically), each group
// by name. Returns indices into `names`.
std::vector<size_t> llama_quantize_order(const std::vector<std::string>& names);

}  // namespace hearth::quant

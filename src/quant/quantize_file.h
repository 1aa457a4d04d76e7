// Quantizing a whole GGUF model file the way llama-quantize does: same
// per-tensor types, same tensor order, same metadata (plus
// general.quantization_version and the new general.file_type), bit-exact
// quantizers. Tensors are produced one at a time while the output is written,
// so memory stays at one tensor however big the model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "quant/tensor_policy.h"

namespace hearth::quant {

// What happens to one tensor, in output order.
struct TensorPlan {
  std::string name;
  std::vector<uint64_t> shape;
  DType from = DType::F32;
  DType to = DType::F32;
  const gguf::TensorInfo* source = nullptr;  // into the input File
};

// The tensors of `input` in llama-quantize's order with their new types
// (`has_imatrix`: some mixes choose differently with an importance matrix).
// Throws when the input is already quantized or a row length fits no type.
std::vector<TensorPlan> plan_quantization(const gguf::File& input, const QuantTarget& target, bool has_imatrix = false);

// What llama-quantize records about the importance matrix it used.
struct ImatrixMetadata {
  std::string file;     // the path as given (quantize.imatrix.file)
  std::string dataset;  // its first dataset, or empty (quantize.imatrix.dataset)
  uint32_t n_entries = 0;
  int32_t n_chunks = 0;  // written when > 0
};

// Output metadata: the input's keys in order (minus split and alignment keys),
// then general.quantization_version = 2 and general.file_type, as llama-quantize
// appends them.
// With an importance matrix, llama-quantize's quantize.imatrix.* keys follow.
std::vector<std::pair<std::string, gguf::Value>> output_metadata(const gguf::Metadata& input, const QuantTarget& target,
                                                                  const ImatrixMetadata* imatrix = nullptr);

struct QuantizeProgress {
  size_t index = 0;  // tensors done so far (1-based after the first)
  size_t count = 0;
  const TensorPlan* tensor = nullptr;
  uint64_t bytes_read = 0;  // input bytes of the tensors done
  uint64_t bytes_total = 0;
  uint64_t bytes_written = 0;
  double elapsed_s = 0;
};

struct QuantizeOptions {
  int threads = 1;
  // An importance matrix file (llama-imatrix's GGUF or .dat format), or empty.
  // Its path goes into the output's metadata as given, as llama-quantize does.
  std::string imatrix_path;
  // Called after each tensor is written (from the calling thread).
  std::function<void(const QuantizeProgress&)> on_progress;
};

struct QuantizeSummary {
  size_t n_tensors = 0;
  size_t n_converted = 0;  // tensors whose type changed
  uint64_t bytes_in = 0;   // tensor data, input
  uint64_t bytes_out = 0;  // tensor data, output
  double seconds = 0;
  // Types some tensors were quantized to without their importance weights
  // (hearth does not use the weights for them yet; ggml does).
  std::vector<DType> imatrix_unused_types;
};

// Converts `n_rows` packed rows of `n_per_row` values from `from` to `to`,
// the rows split among the pool's threads (each row is independent, so the
// bytes do not depend on the thread count).
// `importance`: null, or n_per_row weights per matrix of `rows_per_matrix`
// rows (one set per expert of a stack), as ggml_quantize_chunk gets them.
void convert_rows(DType from, DType to, const uint8_t* src, uint8_t* dst, int64_t n_rows, int64_t n_per_row,
                  ThreadPool& pool, const float* importance = nullptr, int64_t rows_per_matrix = 0);

QuantizeSummary quantize_file(const std::string& input_path, const std::string& output_path,
                              const QuantTarget& target, const QuantizeOptions& options);

}  // namespace hearth::quant

#include "quant/quantize_file.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <unordered_map>

#include "backend/ref/quants.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/writer.h"
#include "quant/imatrix.h"
#include "quant/weighted_quants.h"

namespace hearth::quant {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

bool is_split_or_layout_key(std::string_view key) {
  // Split keys describe the input's parts, not the single output file; the
  // alignment goes through the Writer, which writes the key itself.
  return key == "split.no" || key == "split.count" || key == "split.tensors.count" || key == "general.alignment";
}

void check_distinct_paths(const std::string& input_path, const std::string& output_path) {
  std::error_code ec;
  if (std::filesystem::equivalent(input_path, output_path, ec))
    fail("output '{}' is the input file: write the quantized model to a new path", output_path);
}

bool row_is_finite(const std::vector<float>& row) {
  return std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); });
}

// F16/BF16 results: an all-ones exponent is infinity or NaN (F16 overflows past 65504).
bool half_row_is_finite(DType type, const uint8_t* bytes, int64_t n) {
  if (type != DType::F16 && type != DType::BF16) return true;
  const uint16_t exponent_mask = type == DType::F16 ? 0x7c00 : 0x7f80;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    if ((h & exponent_mask) == exponent_mask) return false;
  }
  return true;
}

// llama-quantize's tensor_requires_imatrix: the 1-3 bit lattice types, and
// Q2_K in a Q2_K_S file, cannot be made well without one.
bool requires_imatrix(const TensorPlan& t, const QuantTarget& target) {
  if (t.name == "token_embd.weight" || t.name == "per_layer_token_embd.weight" || t.name == "output.weight") return false;
  switch (t.to) {
    case DType::IQ3_XXS:
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ1_M:
    case DType::IQ1_S: return t.from != t.to;
    case DType::Q2_K: return t.from != t.to && target.name == "Q2_K_S";
    default: return false;
  }
}

// llama-quantize truncates string overrides to 127 bytes.
std::string truncated(const std::string& s) { return s.substr(0, 127); }

}  // namespace

std::vector<TensorPlan> plan_quantization(const gguf::File& input, const QuantTarget& target, bool has_imatrix) {
  const auto& tensors = input.tensors();
  for (const auto& t : tensors)
    if (dtype_info(t.type).quantized)
      fail("'{}' is already quantized (tensor '{}' is {}); requantizing is not supported: quantize from an F32, "
           "F16 or BF16 file",
           input.path(), t.name, dtype_name(t.type));

  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& t : tensors) names.push_back(t.name);
  const std::vector<size_t> order = llama_quantize_order(names);

  std::vector<TensorShape> shapes;
  shapes.reserve(order.size());
  for (size_t i : order) shapes.push_back({tensors[i].name, tensors[i].type, tensors[i].shape()});
  const std::vector<DType> types = choose_tensor_types(target, model_traits(input.metadata()), shapes, has_imatrix);

  std::vector<TensorPlan> plan;
  plan.reserve(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const gguf::TensorInfo& t = tensors[order[k]];
    plan.push_back({t.name, t.shape(), t.type, types[k], &t});
  }
  return plan;
}

std::vector<std::pair<std::string, gguf::Value>> output_metadata(const gguf::Metadata& input,
                                                                  const QuantTarget& target,
                                                                  const ImatrixMetadata* imatrix) {
  std::vector<std::pair<std::string, gguf::Value>> out;
  for (const auto& [key, value] : input.entries()) {
    // llama-quantize re-sets these two, which moves them to the end.
    if (key == "general.quantization_version" || key == "general.file_type") continue;
    if (is_split_or_layout_key(key)) continue;
    out.emplace_back(key, value);
  }
  out.emplace_back("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  out.emplace_back("general.file_type", gguf::Value::u32(uint32_t(target.file_type)));
  if (imatrix != nullptr) {
    // Re-setting a key keeps its place, as gguf_set_val does.
    auto set = [&](const std::string& key, gguf::Value value) {
      for (auto& [k, v] : out)
        if (k == key) {
          v = std::move(value);
          return;
        }
      out.emplace_back(key, std::move(value));
    };
    set("quantize.imatrix.file", gguf::Value::string(truncated(imatrix->file)));
    if (!imatrix->dataset.empty()) set("quantize.imatrix.dataset", gguf::Value::string(truncated(imatrix->dataset)));
    set("quantize.imatrix.entries_count", gguf::Value::u32(imatrix->n_entries));
    if (imatrix->n_chunks > 0) set("quantize.imatrix.chunks_count", gguf::Value::u32(uint32_t(imatrix->n_chunks)));
  }
  return out;
}

void convert_rows(DType from, DType to, const uint8_t* src, uint8_t* dst, int64_t n_rows, int64_t n_per_row,
                  ThreadPool& pool, const float* importance, int64_t rows_per_matrix) {
  const uint64_t src_row = row_bytes(from, uint64_t(n_per_row));
  const uint64_t dst_row = row_bytes(to, uint64_t(n_per_row));
  // Workers must not throw (the pool does not carry exceptions): they note the
  // first bad row and the caller reports it.
  std::atomic<int64_t> first_bad_row{n_rows};
  auto work = [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(n_per_row));
    for (int64_t r = begin; r < end; ++r) {
      // Always through a float buffer: the mapped input need not be 4-aligned.
      ref::dequantize_row(from, src + uint64_t(r) * src_row, row.data(), n_per_row);
      uint8_t* out = dst + uint64_t(r) * dst_row;
      if (importance != nullptr)
        quantize_row_with_importance(to, row.data(), out, n_per_row, importance + (r / rows_per_matrix) * n_per_row);
      else
        ref::quantize_row(to, row.data(), out, n_per_row);
      if (!row_is_finite(row) || !half_row_is_finite(to, out, n_per_row)) {
        int64_t seen = first_bad_row.load();
        while (r < seen && !first_bad_row.compare_exchange_weak(seen, r)) {
        }
      }
    }
  };
  pool.parallel_for(n_rows, work);
  if (first_bad_row.load() < n_rows)
    fail("row {} holds NaN or infinity{} (llama-quantize refuses such data too)", first_bad_row.load(),
         to == DType::F16 ? " or a value beyond f16's range" : "");
}

QuantizeSummary quantize_file(const std::string& input_path, const std::string& output_path,
                              const QuantTarget& target, const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  check_distinct_paths(input_path, output_path);
  const gguf::File input = gguf::File::open(input_path);
  const bool has_imatrix = !options.imatrix_path.empty();
  std::unordered_map<std::string, std::vector<float>> importance;
  ImatrixMetadata imatrix_metadata;
  if (has_imatrix) {
    const Imatrix imatrix = load_imatrix(options.imatrix_path);
    if (!imatrix.is_legacy && !imatrix.has_metadata)
      fail("importance matrix '{}' lacks the imatrix.datasets/chunk_count/chunk_size keys (llama-quantize refuses it too)",
           options.imatrix_path);
    importance = importance_weights(imatrix);
    imatrix_metadata = {options.imatrix_path, imatrix.datasets.empty() ? std::string() : imatrix.datasets.front(),
                        uint32_t(importance.size()), imatrix.chunk_count};
  }
  const std::vector<TensorPlan> plan = plan_quantization(input, target, has_imatrix);
  std::vector<DType> unused_types;
  std::vector<const float*> weights(plan.size(), nullptr);
  for (size_t i = 0; i < plan.size(); ++i) {
    const TensorPlan& t = plan[i];
    if (t.from == t.to) continue;
    if (const auto it = importance.find(t.name); it != importance.end()) {
      const uint64_t expected = t.shape[0] * (t.shape.size() > 2 ? t.shape[2] : 1);
      if (it->second.size() == expected) {
        weights[i] = it->second.data();
      } else if (t.name != "token_embd.weight" && t.name != "per_layer_token_embd.weight") {
        fail("importance matrix '{}' has {} values for '{}', which needs {} (was it computed on another model?)",
             options.imatrix_path, it->second.size(), t.name, expected);
      }
    }
    if (requires_imatrix(t, target) && weights[i] == nullptr) {
      if (!has_imatrix)
        fail("{} needs an importance matrix: tensor '{}' would be {}, which cannot be made well without one. Compute "
             "one with `hearth imatrix MODEL --text FILE` (or llama-imatrix) and pass --imatrix FILE",
             target.name, t.name, dtype_name(t.to));
      fail("importance matrix '{}' has no entry for '{}', which {} needs (a very low-bit type)", options.imatrix_path,
           t.name, dtype_name(t.to));
    }
    if (!can_quantize_with_importance(t.to))
      fail("tensor '{}': hearth has no quantizer for {}", t.name, dtype_name(t.to));
    if (weights[i] != nullptr && !uses_importance_like_ggml(t.to) &&
        std::find(unused_types.begin(), unused_types.end(), t.to) == unused_types.end())
      unused_types.push_back(t.to);
  }

  gguf::Writer writer(input.alignment());
  for (auto& [key, value] : output_metadata(input.metadata(), target, has_imatrix ? &imatrix_metadata : nullptr))
    writer.set(key, value);
  for (const auto& t : plan) writer.add_tensor_deferred(t.name, t.to, t.shape);

  QuantizeSummary summary;
  summary.imatrix_unused_types = unused_types;
  summary.n_tensors = plan.size();
  for (const auto& t : plan) summary.bytes_in += t.source->n_bytes;

  ThreadPool pool(std::max(1, options.threads));
  QuantizeProgress progress;
  progress.count = plan.size();
  progress.bytes_total = summary.bytes_in;
  bool output_created = false;  // once fill runs, the file is ours to clean up
  auto fill = [&](size_t index, std::span<uint8_t> bytes) {
    output_created = true;
    const TensorPlan& t = plan[index];
    if (t.from == t.to) {
      std::memcpy(bytes.data(), t.source->data, bytes.size());
    } else {
      const int64_t n_per_row = int64_t(t.shape[0]);
      const int64_t n_rows = int64_t(t.source->n_elements) / n_per_row;
      try {
        const int64_t rows_per_matrix = t.shape.size() > 1 ? int64_t(t.shape[1]) : 1;
        convert_rows(t.from, t.to, t.source->data, bytes.data(), n_rows, n_per_row, pool, weights[index],
                     rows_per_matrix);
      } catch (const Error& e) {
        fail("tensor '{}': {}", t.name, e.what());
      }
      ++summary.n_converted;
    }
    summary.bytes_out += bytes.size();
    if (options.on_progress) {
      progress.index = index + 1;
      progress.tensor = &t;
      progress.bytes_read += t.source->n_bytes;
      progress.bytes_written = summary.bytes_out;
      progress.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.on_progress(progress);
    }
  };
  try {
    writer.write(output_path, fill);
  } catch (...) {
    // A half-written model must not be mistaken for a finished one.
    std::error_code ignored;
    if (output_created) std::filesystem::remove(output_path, ignored);
    throw;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace hearth::quant

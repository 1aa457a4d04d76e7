// Helpers for the quantizer tests: temporary files and comparing a hearth
// output file with the file llama-quantize made.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/ref/quants.h"
#include "common/fixtures.h"
#include "core/dtype.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace hearth::test {

// A fresh path under the test's temporary folder.
inline std::filesystem::path temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / fmt::format("hearth-quant-{}-{}", info->name(), ::getpid());
  std::filesystem::create_directories(dir);
  return dir / name;
}

inline std::vector<uint8_t> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// How a hearth file compares with llama.cpp's.
struct Comparison {
  size_t n_tensors = 0;
  size_t same_layout = 0;     // same name, type and shape at the same position
  size_t identical_data = 0;  // of those, bit-identical bytes
  std::vector<std::string> layout_mismatches;
  std::vector<std::string> data_mismatches;
  bool metadata_equal = false;
  std::string metadata_mismatch;
};

inline Comparison compare_files(const gguf::File& ours, const gguf::File& theirs) {
  Comparison c;
  c.n_tensors = theirs.tensors().size();
  if (ours.tensors().size() != theirs.tensors().size())
    c.layout_mismatches.push_back(
        fmt::format("{} tensors, llama.cpp has {}", ours.tensors().size(), theirs.tensors().size()));
  for (size_t i = 0; i < std::min(ours.tensors().size(), theirs.tensors().size()); ++i) {
    const auto& a = ours.tensors()[i];
    const auto& b = theirs.tensors()[i];
    if (a.name != b.name || a.type != b.type || a.shape() != b.shape()) {
      c.layout_mismatches.push_back(fmt::format("#{}: ours {} {} [{}], llama.cpp {} {} [{}]", i, a.name,
                                                dtype_name(a.type), fmt::join(a.shape(), ","), b.name,
                                                dtype_name(b.type), fmt::join(b.shape(), ",")));
      continue;
    }
    ++c.same_layout;
    if (a.n_bytes == b.n_bytes && std::equal(a.data, a.data + a.n_bytes, b.data))
      ++c.identical_data;
    else
      c.data_mismatches.push_back(fmt::format("{} ({})", a.name, dtype_name(a.type)));
  }
  const auto& ma = ours.metadata().entries();
  const auto& mb = theirs.metadata().entries();
  c.metadata_equal = ma.size() == mb.size();
  if (!c.metadata_equal) c.metadata_mismatch = fmt::format("{} keys, llama.cpp has {}", ma.size(), mb.size());
  for (size_t i = 0; i < std::min(ma.size(), mb.size()); ++i) {
    if (ma[i].first != mb[i].first || !(ma[i].second == mb[i].second)) {
      c.metadata_equal = false;
      c.metadata_mismatch = fmt::format("key #{}: ours '{}', llama.cpp '{}'", i, ma[i].first, mb[i].first);
      break;
    }
  }
  return c;
}

// An F32 copy of a (possibly quantized) model: same keys and tensor order,
// every tensor dequantized. For checking type choices against a llama.cpp
// file when its F32 source is not at hand: the values differ from the source,
// the shapes, names and metadata the rules read do not.
inline void write_f32_copy(const gguf::File& model, const std::filesystem::path& out) {
  gguf::Writer writer(model.alignment());
  for (const auto& [key, value] : model.metadata().entries())
    if (key != "general.alignment") writer.set(key, value);
  for (const auto& t : model.tensors()) {
    std::vector<float> values(t.n_elements);
    const int64_t n_per_row = int64_t(t.ne[0]);
    const uint64_t src_row = row_bytes(t.type, t.ne[0]);
    for (uint64_t r = 0; r < t.n_elements / t.ne[0]; ++r)
      ref::dequantize_row(t.type, t.data + r * src_row, values.data() + r * t.ne[0], n_per_row);
    writer.add_tensor(t.name, DType::F32, t.shape(),
                      {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)});
  }
  writer.write(out.string());
}

}  // namespace hearth::test

// Shared access to reference/quants.gguf (llama.cpp's own quantization
// outputs) for the backend tests.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "gguf/gguf.h"

namespace hearth::test {

class QuantFixture {
 public:
  static const QuantFixture& get() {
    static const QuantFixture instance("reference/quants.gguf");  // read-only test data, opened once
    return instance;
  }
  // The same layout for the types added later (IQ1/IQ2/IQ3, TQ1_0, TQ2_0,
  // MXFP4), quantized with the importance matrix it stores ('imatrix'); see
  // tests/data/reference/README.md.
  static const QuantFixture& get_new_types() {
    static const QuantFixture instance("reference/quants-new.gguf");
    return instance;
  }

  bool available() const { return file_ != nullptr; }
  int64_t n_per_row() const { return n_per_row_; }
  int64_t n_rows() const { return n_rows_; }
  const std::vector<std::string>& types() const { return types_; }

  const gguf::TensorInfo& tensor(const std::string& name) const { return file_->tensor(name); }
  bool has(const std::string& name) const { return file_->find_tensor(name) != nullptr; }

  std::vector<float> floats(const std::string& name) const {
    const gguf::TensorInfo& t = tensor(name);
    EXPECT_EQ(t.type, DType::F32) << name;
    std::vector<float> out(t.n_bytes / sizeof(float));
    std::memcpy(out.data(), t.data, t.n_bytes);
    return out;
  }
  std::vector<uint8_t> bytes(const std::string& name) const {
    const gguf::TensorInfo& t = tensor(name);
    return {t.data, t.data + t.n_bytes};
  }

 private:
  explicit QuantFixture(const std::string& relative) {
    const auto path = fixture(relative);
    if (path.empty()) return;
    file_ = std::make_unique<gguf::File>(gguf::File::open(path.string()));
    const auto& meta = file_->metadata();
    n_per_row_ = meta.get_int("quants.n_per_row");
    n_rows_ = meta.get_int("quants.n_rows");
    types_ = meta.at("quants.types").strings("quants.types");
  }

  std::unique_ptr<gguf::File> file_;
  int64_t n_per_row_ = 0;
  int64_t n_rows_ = 0;
  std::vector<std::string> types_;
};

// The scale of float rounding in a dot product, sum |w_i * a_i|. ggml's x86
// TQ1_0/TQ2_0 kernels compute (t_i + 1) * a_i and a_i in separate float
// lanes (t = -1..1) and subtract after scaling, so their rounding follows
// sum (|w_i| + d) * |a_i|, d the block scale (max |w| of its 256).
inline double dot_rounding_scale(DType type, const float* w, const float* a, int64_t n) {
  const bool ternary = type == DType::TQ1_0 || type == DType::TQ2_0;
  double sum = 0;
  for (int64_t b = 0; b < n; b += 256) {
    double d = 0;
    if (ternary)
      for (int64_t i = b; i < std::min<int64_t>(n, b + 256); ++i) d = std::max(d, std::fabs(double(w[i])));
    for (int64_t i = b; i < std::min<int64_t>(n, b + 256); ++i) sum += (std::fabs(double(w[i])) + d) * std::fabs(double(a[i]));
  }
  return sum;
}

// ggml's type name upper-cased, as the fixtures spell it ("IQ3_XXS").
inline std::string upper_name(DType type) {
  std::string s(dtype_name(type));
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

inline DType parse_type(const std::string& name) {
  auto type = dtype_from_name(name);
  if (!type) throw std::runtime_error("unknown type " + name);
  return *type;
}

// Each type's activation, quantized by the reference to the type's dot-product
// format, equals the fixture's act_q.TYPE (ggml's bytes) exactly.
inline void expect_activation_quantization_matches(const QuantFixture& f) {
  ASSERT_TRUE(f.available());
  const auto act = f.floats("act");
  const int64_t n = int64_t(act.size());
  for (const std::string& type_name : f.types()) {
    const DType act_type = ref::vec_dot_type(parse_type(type_name));
    const gguf::TensorInfo& expected = f.tensor("act_q." + type_name);
    EXPECT_EQ(expected.type, act_type) << type_name;
    std::vector<uint8_t> got(row_bytes(act_type, uint64_t(n)), 0xAB);
    ASSERT_EQ(got.size(), expected.n_bytes);
    ref::quantize_activation(act_type, act.data(), got.data(), n);
    EXPECT_EQ(std::memcmp(got.data(), expected.data, got.size()), 0) << type_name;
  }
}

}  // namespace hearth::test

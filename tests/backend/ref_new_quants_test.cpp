// The reference kernels of the IQ1/IQ2/IQ3 lattice types, TQ1_0, TQ2_0 and
// MXFP4 against llama.cpp's own outputs (reference/quants-new.gguf, made by
// ggml with an importance matrix stored in the file): dequantization and
// activation quantization bit-exact, dot products within float-summation
// noise, and the quantizers hearth has for these types byte-identical.
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "backend/ref/iq_grids.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "core/quant_blocks.h"
#include "quant_fixture.h"

namespace hearth {
namespace {

using test::QuantFixture;

const QuantFixture& fixture_new() { return QuantFixture::get_new_types(); }

TEST(RefNewQuants, FixtureCoversEveryNewType) {
  const QuantFixture& f = fixture_new();
  ASSERT_TRUE(f.available()) << "reference/quants-new.gguf not found";
  EXPECT_EQ(f.n_per_row(), 256);
  EXPECT_EQ(f.n_rows(), 16);
  const std::vector<std::string> want = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S",
                                         "IQ1_S",   "IQ1_M",  "TQ1_0", "TQ2_0",   "MXFP4"};
  EXPECT_EQ(f.types(), want);
  for (const auto& name : f.types()) EXPECT_TRUE(ref::is_supported(test::parse_type(name))) << name;
}

TEST(RefNewQuants, SignTableIsGgmls) {
  // ggml's ksigns_iq2xs starts 0, 129, 130, 3, 132, 5, 6, 135 and ends 252, 125, 126, 255.
  const uint8_t head[8] = {0, 129, 130, 3, 132, 5, 6, 135};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(ref::kSignsIq2[i], head[i]) << i;
  EXPECT_EQ(ref::kSignsIq2[124], 252);
  EXPECT_EQ(ref::kSignsIq2[125], 125);
  EXPECT_EQ(ref::kSignsIq2[127], 255);
}

TEST(RefNewQuants, DequantizeIsBitExact) {
  const QuantFixture& f = fixture_new();
  ASSERT_TRUE(f.available());
  const int64_t n = f.n_per_row() * f.n_rows();
  for (const std::string& name : f.types()) {
    const DType type = test::parse_type(name);
    const auto quantized = f.bytes("q." + name);
    const auto expected = f.floats("deq." + name);
    ASSERT_EQ(quantized.size(), row_bytes(type, uint64_t(n))) << name;
    std::vector<float> got(size_t(n), -1.0f);
    ref::dequantize_row(type, quantized.data(), got.data(), n);
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (std::memcmp(&got[i], &expected[i], sizeof(float)) != 0) {
        if (first < 0) first = i;
        ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0) << name << ": first at " << first << " got " << (first >= 0 ? got[first] : 0)
                             << " want " << (first >= 0 ? expected[first] : 0);
  }
}

TEST(RefNewQuants, ActivationQuantizationIsBitExact) { test::expect_activation_quantization_matches(fixture_new()); }

TEST(RefNewQuants, DotProductsMatchLlamaCpp) {
  const QuantFixture& f = fixture_new();
  ASSERT_TRUE(f.available());
  const int64_t n = f.n_per_row(), rows = f.n_rows();
  const auto act = f.floats("act");
  for (const std::string& name : f.types()) {
    const DType type = test::parse_type(name);
    const auto weights = f.bytes("q." + name);
    const auto act_q = f.bytes("act_q." + name);
    const auto expected = f.floats("vecdot." + name);
    const auto deq = f.floats("deq." + name);
    const size_t row_size = row_bytes(type, uint64_t(n));
    double worst = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float got = ref::vec_dot(type, n, weights.data() + r * row_size, act_q.data());
      // Integer block sums are exact; the float summation order differs.
      const double magnitude = test::dot_rounding_scale(type, deq.data() + r * n, act.data(), n);
      EXPECT_NEAR(got, expected[r], 1e-6 * magnitude + 1e-30) << name << " row " << r;
      if (magnitude > 0) worst = std::max(worst, std::fabs(double(got) - expected[r]) / magnitude);
    }
    std::printf("[vec_dot  %-7s] max |diff|/sum|w*a| %.3g\n", name.c_str(), worst);
  }
}

// Quantizers hearth has for these types: byte-identical to ggml's.
TEST(RefNewQuants, ClosedFormQuantizersAreByteIdentical) {
  const QuantFixture& f = fixture_new();
  ASSERT_TRUE(f.available());
  const int64_t n = f.n_per_row(), rows = f.n_rows();
  const auto src = f.floats("src");
  int checked = 0;
  for (const std::string& name : f.types()) {
    const DType type = test::parse_type(name);
    if (!ref::can_quantize(type) || !f.has("qn." + name)) continue;
    const auto expected = f.bytes("qn." + name);
    const size_t row_size = row_bytes(type, uint64_t(n));
    std::vector<uint8_t> got(expected.size(), 0xAB);
    for (int64_t r = 0; r < rows; ++r) ref::quantize_row(type, src.data() + r * n, got.data() + r * row_size, n);
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(std::memcmp(got.data() + r * row_size, expected.data() + r * row_size, row_size), 0) << name << " row " << r;
    ++checked;
  }
  EXPECT_GE(checked, 7) << "TQ1_0, TQ2_0, MXFP4, IQ3_XXS, IQ3_S, IQ2_S and IQ1_M at least";
}

// IQ3_XXS / IQ3_S / IQ2_S / IQ2_XS / IQ2_XXS / IQ1_S / IQ1_M with the fixture's importance matrix: the searched
// quantizers reproduce ggml's bytes.
TEST(RefNewQuants, Iq3WithImportanceIsByteIdentical) {
  const QuantFixture& f = fixture_new();
  ASSERT_TRUE(f.available());
  const int64_t n = f.n_per_row(), rows = f.n_rows();
  const auto src = f.floats("src");
  const auto importance = f.floats("imatrix");
  for (const DType type :
       {DType::IQ3_XXS, DType::IQ3_S, DType::IQ2_S, DType::IQ2_XS, DType::IQ2_XXS, DType::IQ1_S, DType::IQ1_M}) {
    const std::string name = test::upper_name(type);
    const auto expected = f.bytes("q." + name);
    const size_t row_size = row_bytes(type, uint64_t(n));
    std::vector<uint8_t> got(expected.size(), 0xAB);
    for (int64_t r = 0; r < rows; ++r)
      ref::quantize_row_weighted(type, src.data() + r * n, got.data() + r * row_size, n, importance.data());
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(std::memcmp(got.data() + r * row_size, expected.data() + r * row_size, row_size), 0) << name << " row " << r;
  }
}

TEST(RefNewQuants, Iq2XsWithoutImportanceIsAnError) {
  std::vector<float> row(256, 1.0f);
  std::vector<uint8_t> out(row_bytes(DType::IQ2_XS, 256));
  try {
    ref::quantize_row_weighted(DType::IQ2_XS, row.data(), out.data(), 256, nullptr);
    FAIL() << "IQ2_XS quantized without an importance matrix";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("importance matrix"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(ref::can_quantize(DType::IQ2_XS));
}

TEST(RefNewQuants, BlockStructsMatchTheTypeTable) {
  EXPECT_EQ(sizeof(block_iq2_xxs), dtype_info(DType::IQ2_XXS).type_size);
  EXPECT_EQ(sizeof(block_iq2_xs), dtype_info(DType::IQ2_XS).type_size);
  EXPECT_EQ(sizeof(block_iq2_s), dtype_info(DType::IQ2_S).type_size);
  EXPECT_EQ(sizeof(block_iq3_xxs), dtype_info(DType::IQ3_XXS).type_size);
  EXPECT_EQ(sizeof(block_iq3_s), dtype_info(DType::IQ3_S).type_size);
  EXPECT_EQ(sizeof(block_iq1_s), dtype_info(DType::IQ1_S).type_size);
  EXPECT_EQ(sizeof(block_iq1_m), dtype_info(DType::IQ1_M).type_size);
  EXPECT_EQ(sizeof(block_tq1_0), dtype_info(DType::TQ1_0).type_size);
  EXPECT_EQ(sizeof(block_tq2_0), dtype_info(DType::TQ2_0).type_size);
  EXPECT_EQ(sizeof(block_mxfp4), dtype_info(DType::MXFP4).type_size);
}

}  // namespace
}  // namespace hearth

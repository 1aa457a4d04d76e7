#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/dtype.h"
#include "core/file_type.h"
#include "gguf/gguf.h"

using namespace hearth;

namespace {

// ggml's block sizes and bytes per block (ggml-common.h block structs,
// ggml.c type_traits), written out independently of src/core/dtype.cpp.
struct Expected {
  uint32_t id;
  const char* name;
  uint32_t block;
  uint32_t bytes;
};
constexpr Expected kGgml[] = {
    {0, "f32", 1, 4},         {1, "f16", 1, 2},         {2, "q4_0", 32, 18},     {3, "q4_1", 32, 20},
    {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},      {8, "q8_0", 32, 34},     {9, "q8_1", 32, 36},
    {10, "q2_K", 256, 84},    {11, "q3_K", 256, 110},   {12, "q4_K", 256, 144},  {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210},   {15, "q8_K", 256, 292},   {16, "iq2_xxs", 256, 66}, {17, "iq2_xs", 256, 74},
    {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},   {20, "iq4_nl", 32, 18},  {21, "iq3_s", 256, 110},
    {22, "iq2_s", 256, 82},   {23, "iq4_xs", 256, 136}, {24, "i8", 1, 1},        {25, "i16", 1, 2},
    {26, "i32", 1, 4},        {27, "i64", 1, 8},        {28, "f64", 1, 8},       {29, "iq1_m", 256, 56},
    {30, "bf16", 1, 2},       {34, "tq1_0", 256, 54},   {35, "tq2_0", 256, 66},  {39, "mxfp4", 32, 17},
};

TEST(DType, TableMatchesGgml) {
  for (const auto& e : kGgml) {
    const auto info = dtype_info(e.id);
    ASSERT_TRUE(info) << e.name;
    EXPECT_EQ(info->name, e.name);
    EXPECT_EQ(info->block_size, e.block) << e.name;
    EXPECT_EQ(info->type_size, e.bytes) << e.name;
    EXPECT_EQ(dtype_from_name(e.name), DType(e.id));
  }
}

TEST(DType, RemovedAndUnknownIdsAreRejected) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u}) EXPECT_FALSE(dtype_info(id)) << id;
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
  EXPECT_EQ(dtype_from_name("IQ4_XS"), DType::IQ4_XS);
  EXPECT_FALSE(dtype_from_name("q4_k_m"));
}

// The quantized tensors in reference/quants.gguf (written by ggml) have the
// byte sizes our table predicts.
TEST(DType, ByteSizesAgreeWithGgmlWrittenTensors) {
  const auto path = hearth::test::fixture("reference/quants.gguf");
  ASSERT_FALSE(path.empty());
  const auto file = gguf::File::open(path.string());
  int checked = 0;
  for (const auto& t : file.tensors()) {
    if (t.name.rfind("q.", 0) != 0) continue;
    EXPECT_EQ(t.n_bytes, row_bytes(t.type, t.ne[0]) * t.ne[1]) << t.name;
    ++checked;
  }
  EXPECT_GE(checked, 14);
}

TEST(FileType, NamesLlamaCppFileTypes) {
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(30), "IQ4_XS");
  EXPECT_EQ(file_type_name(99), "unknown (99)");
  EXPECT_EQ(file_type_from_name("Q3_K_M"), 12);
}

}  // namespace

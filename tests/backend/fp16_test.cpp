// f16 / bf16 conversions: exhaustive over every half value, against the F16C
// instructions (an independent implementation) where the CPU has them, and
// against known encodings.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <immintrin.h>

#include "core/fp16.h"

namespace hearth {
namespace {

__attribute__((target("f16c"))) uint16_t hardware_fp32_to_fp16(float f) {
  return uint16_t(_cvtss_sh(f, 0));  // 0: round to nearest even
}
__attribute__((target("f16c"))) float hardware_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, KnownEncodings) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);   // largest finite half
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);   // halfway to 2^16 rounds to even: inf
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);   // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);   // exactly half of it: ties to even (0)
  EXPECT_EQ(fp32_to_fp16(0x1.8p-24f), 0x0002); // 1.5 units: ties to even (2)
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);  // tie, even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1.8p-10f), 0x3c02);  // tie at odd rounds up
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(std::nanf("")))));
  EXPECT_EQ(fp16_to_fp32(0x3555), 0x1.554p-2f);
  EXPECT_EQ(fp16_to_fp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(Fp16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Fp16, MatchesF16cInstructions) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU without F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = fp16_to_fp32(uint16_t(h)), b = hardware_fp16_to_fp32(uint16_t(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(a), std::bit_cast<uint32_t>(b)) << std::hex << h;
  }
  // Random bit patterns over every exponent, plus values next to each half
  // boundary (the rounding cases).
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000000; ++i) {
    const float f = std::bit_cast<float>(uint32_t(rng()));
    ASSERT_EQ(fp32_to_fp16(f), hardware_fp32_to_fp16(f)) << std::hexfloat << f;
  }
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const uint32_t base = std::bit_cast<uint32_t>(fp16_to_fp32(uint16_t(h)));
    for (int delta = -2; delta <= 2; ++delta) {
      for (uint32_t offset : {0u, 0x1000u, 0x0fffu, 0x1001u}) {
        const float f = std::bit_cast<float>(base + offset + uint32_t(delta));
        ASSERT_EQ(fp32_to_fp16(f), hardware_fp32_to_fp16(f)) << std::hexfloat << f;
      }
    }
  }
}

TEST(Bf16, GgmlRounding) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (down).
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway with an odd low bit: up.
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82);
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);
  // NaN stays NaN and becomes quiet, keeping the upper payload bits.
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)), 0x7fc0);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0xffa00000u)), 0xffe0);
  // Large finite values round to infinity like any RNE conversion.
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_bf16(f), h);
  }
}

}  // namespace
}  // namespace hearth

// Malformed GGUF files, built byte by byte, must each be refused with an
// error that names the problem, quickly, without a crash or a sanitizer
// report. This file builds into test_gguf_san, linked against the reader
// compiled with AddressSanitizer and UBSan.
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/cpu_time.h"
#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"

using namespace hearth;

namespace {

// Assembles GGUF bytes field by field, so a test can write any value into any field.
class Bytes {
 public:
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
  Bytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data.insert(data.end(), b, b + n);
    return *this;
  }
  Bytes& pad(size_t alignment) {
    while (data.size() % alignment) data.push_back(0);
    return *this;
  }
  std::vector<uint8_t> data;
};

struct Spec {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  uint64_t n_tensors = 2;
  uint64_t n_kv = 3;
  uint32_t arch_type = 8;  // string
  uint64_t arch_length = 5;
  uint32_t array_elem_type = 6;  // f32
  uint64_t array_count = 4;
  uint32_t alignment = 32;
  uint32_t t0_dims = 2;
  uint64_t t0_ne0 = 32;
  uint64_t t0_ne1 = 2;
  uint32_t t0_type = 0;  // f32
  uint64_t t0_offset = 0;
  uint32_t t1_type = 8;  // q8_0
  uint64_t t1_offset = 256;
  uint64_t data_bytes = 256 + 34 * 2;
};

// A valid file: 3 keys, an f32 [32, 2] tensor and a q8_0 [64] tensor.
std::vector<uint8_t> build(const Spec& s) {
  Bytes b;
  b.u32(s.magic).u32(s.version).u64(s.n_tensors).u64(s.n_kv);
  b.str("general.architecture").u32(s.arch_type).u64(s.arch_length).raw("llama", 5);
  b.str("test.floats").u32(9).u32(s.array_elem_type).u64(s.array_count);
  for (int i = 0; i < 4; ++i) b.u32(0x3f800000);
  b.str("general.alignment").u32(4).u32(s.alignment);
  b.str("w0").u32(s.t0_dims).u64(s.t0_ne0);
  if (s.t0_dims >= 2) b.u64(s.t0_ne1);
  for (uint32_t d = 2; d < s.t0_dims && d < 8; ++d) b.u64(1 << 20);
  b.u32(s.t0_type).u64(s.t0_offset);
  b.str("w1").u32(1).u64(64).u32(s.t1_type).u64(s.t1_offset);
  b.pad(s.alignment > 0 && s.alignment <= 4096 ? s.alignment : 32);
  for (uint64_t i = 0; i < s.data_bytes; ++i) b.u8(uint8_t(i));
  return b.data;
}

// Parses and expects an Error containing `expected`, within a second of CPU.
void expect_refused(const std::vector<uint8_t>& bytes, const std::string& expected) {
  const double start = test::thread_cpu_seconds();
  try {
    (void)gguf::File::parse(bytes, "bad.gguf");
    ADD_FAILURE() << "accepted a file that should fail with: " << expected;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(expected), std::string::npos) << "message: " << message;
    EXPECT_NE(message.find("bad.gguf"), std::string::npos) << "message does not name the file: " << message;
    EXPECT_NE(message.find("at byte"), std::string::npos) << "message does not give the offset: " << message;
  }
  EXPECT_LT(test::thread_cpu_seconds() - start, 1.0) << expected;
}

Spec with(std::function<void(Spec&)> change) {
  Spec s;
  change(s);
  return s;
}

TEST(GgufMalformed, TheBaseFileIsValid) {
  const auto bytes = build(Spec{});
  const auto file = gguf::File::parse(bytes, "good.gguf");
  EXPECT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.metadata().get_string("general.architecture"), "llama");
}

TEST(GgufMalformed, TruncatedAtEveryOffsetIsRefused) {
  const auto bytes = build(Spec{});
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    const double start = test::thread_cpu_seconds();
    try {
      (void)gguf::File::parse(cut, "bad.gguf");
      ADD_FAILURE() << "accepted a file cut at " << n << " of " << bytes.size();
    } catch (const Error& e) {
      const std::string message = e.what();
      const bool named = message.find("truncated") != std::string::npos ||
                         message.find("past the end") != std::string::npos ||
                         message.find("cannot fit") != std::string::npos;
      EXPECT_TRUE(named) << "cut at " << n << ": " << message;
    }
    EXPECT_LT(test::thread_cpu_seconds() - start, 1.0);
  }
}

TEST(GgufMalformed, BadMagicAndVersions) {
  expect_refused(build(with([](Spec& s) { s.magic = 0x4c4c4747; })), "not a GGUF file");
  expect_refused(build(with([](Spec& s) { s.version = 1; })), "version 1 is not supported");
  expect_refused(build(with([](Spec& s) { s.version = 4; })), "unsupported GGUF version 4");
  expect_refused(build(with([](Spec& s) { s.version = 0x03000000; })), "big-endian");
}

TEST(GgufMalformed, AbsurdCountsAndLengths) {
  expect_refused(build(with([](Spec& s) { s.n_kv = ~0ull; })), "metadata count");
  expect_refused(build(with([](Spec& s) { s.n_tensors = 1ull << 62; })), "tensor count");
  // A fourth key makes the reader take the tensor infos for metadata; it must still end in a clean error.
  expect_refused(build(with([](Spec& s) { s.n_kv = 4; })), "runs past the end");
  expect_refused(build(with([](Spec& s) { s.arch_length = ~0ull - 3; })), "string length");
  expect_refused(build(with([](Spec& s) { s.arch_length = 1ull << 40; })), "string length");
  expect_refused(build(with([](Spec& s) { s.array_count = 1ull << 61; })), "cannot fit");
  expect_refused(build(with([](Spec& s) { s.array_count = ~0ull; })), "cannot fit");
}

TEST(GgufMalformed, InvalidValueAndTensorTypes) {
  expect_refused(build(with([](Spec& s) { s.arch_type = 13; })), "invalid value type 13");
  expect_refused(build(with([](Spec& s) { s.arch_type = 0xffffffffu; })), "invalid value type");
  expect_refused(build(with([](Spec& s) { s.array_elem_type = 99; })), "invalid value type 99");
  expect_refused(build(with([](Spec& s) { s.t0_type = 4; })), "unknown tensor type id 4");
  expect_refused(build(with([](Spec& s) { s.t1_type = 1000; })), "unknown tensor type id 1000");
  expect_refused(build(with([](Spec& s) { s.t0_type = 36; })), "unknown tensor type id 36");
}

TEST(GgufMalformed, OffsetsPastTheEndOrMisaligned) {
  expect_refused(build(with([](Spec& s) { s.t1_offset = 1ull << 40; })), "runs past the end of the data section");
  expect_refused(build(with([](Spec& s) { s.t1_offset = ~0ull - 31; })), "runs past the end of the data section");
  expect_refused(build(with([](Spec& s) { s.data_bytes = 256 + 40; })), "tensor 'w1'");
  expect_refused(build(with([](Spec& s) { s.t1_offset = 250; })), "not a multiple of the alignment 32");
  expect_refused(build(with([](Spec& s) { s.alignment = 0; })), "not a power of two");
  expect_refused(build(with([](Spec& s) { s.alignment = 48; })), "not a power of two");
}

TEST(GgufMalformed, DimensionsThatOverflowOrDoNotFit) {
  expect_refused(build(with([](Spec& s) { s.t0_ne0 = 1ull << 32; s.t0_ne1 = 1ull << 32; })), "overflow");
  expect_refused(build(with([](Spec& s) { s.t0_ne0 = ~0ull; s.t0_ne1 = 2; })), "overflow");
  expect_refused(build(with([](Spec& s) { s.t0_ne0 = 1ull << 63; s.t0_ne1 = 1; })), "overflow");
  expect_refused(build(with([](Spec& s) { s.t0_dims = 0; })), "0 dimensions");
  expect_refused(build(with([](Spec& s) { s.t0_dims = 5; })), "5 dimensions");
  expect_refused(build(with([](Spec& s) { s.t0_dims = 4; })), "runs past the end");  // 32*2*2^20*2^20 floats
  expect_refused(build(with([](Spec& s) { s.t1_type = 2; s.t0_type = 12; })), "not a multiple of the q4_K block size 256");
}

TEST(GgufMalformed, DuplicatesAndBadBools) {
  Bytes b;
  b.u32(0x46554747).u32(3).u64(0).u64(2);
  b.str("a").u32(4).u32(1);
  b.str("a").u32(4).u32(2);
  expect_refused(b.data, "duplicate metadata key 'a'");

  Bytes t;
  t.u32(0x46554747).u32(3).u64(2).u64(0);
  t.str("x").u32(1).u64(32).u32(0).u64(0);
  t.str("x").u32(1).u64(32).u32(0).u64(128);
  t.pad(32);
  for (int i = 0; i < 256; ++i) t.u8(0);
  expect_refused(t.data, "duplicate tensor name 'x'");

  Bytes flag;
  flag.u32(0x46554747).u32(3).u64(0).u64(1).str("flag").u32(7).u8(2);
  expect_refused(flag.data, "bool value 2");
}

TEST(GgufMalformed, DeeplyNestedArraysAreBounded) {
  Bytes b;
  b.u32(0x46554747).u32(3).u64(0).u64(1).str("deep").u32(9);
  for (int i = 0; i < 1000; ++i) b.u32(9).u64(1);
  b.u32(4).u64(1).u32(7);
  expect_refused(b.data, "nested deeper");
}

// Flipping each byte of a real file must never crash the reader: it either
// parses or is refused with an Error.
TEST(GgufMalformed, ByteFlipsOfARealModelNeverCrash) {
  const auto path = hearth::test::source_dir() / "models" / "stories260K.gguf";
  const std::string text = hearth::test::read_text(path);
  std::vector<uint8_t> bytes(text.begin(), text.end());
  const auto original = gguf::File::parse(bytes, "stories260K.gguf");
  const size_t header_end = original.data_offset();
  int refused = 0;
  for (size_t i = 0; i < header_end; i += 3) {
    for (uint8_t flip : {uint8_t(0xff), uint8_t(0x80), uint8_t(0x01)}) {
      std::vector<uint8_t> copy = bytes;
      copy[i] ^= flip;
      try {
        (void)gguf::File::parse(copy, "flip.gguf");
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace

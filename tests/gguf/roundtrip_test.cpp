// Writer -> reader round trips, and re-writing llama.cpp's own files
// byte for byte (the fixtures were written by llama-quantize / gguf-py).
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace fs = std::filesystem;
using namespace hearth;
using namespace hearth::gguf;

namespace {

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i * 7);
  return v;
}

Writer writer_with_every_value_type() {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("t.u8", Value::u8(250));
  w.set("t.i8", Value::i8(-100));
  w.set("t.u16", Value::u16(65000));
  w.set("t.i16", Value::i16(-32000));
  w.set("t.u32", Value::u32(4000000000u));
  w.set("t.i32", Value::i32(-2000000000));
  w.set("t.u64", Value::u64(18000000000000000000ull));
  w.set("t.i64", Value::i64(-9000000000000000000ll));
  w.set("t.f32", Value::f32(1.5e-5f));
  w.set("t.f64", Value::f64(-2.25));
  w.set("t.bool", Value::boolean(true));
  w.set("t.string", Value::string("héllo\nworld"));
  w.set("t.empty_string", Value::string(""));
  w.set("t.strings", Value::string_array({"a", "", "<0x0A>", "▁the"}));
  w.set("t.floats", Value::array(ValueType::F32, std::vector<float>{0.5f, -1.0f, 3.25f}));
  w.set("t.ints", Value::array(ValueType::I32, std::vector<int32_t>{1, -2, 3}));
  w.set("t.bools", Value::array(ValueType::Bool, std::vector<uint8_t>{1, 0, 1}));
  w.set("t.empty", Value::array(ValueType::U64, std::vector<uint64_t>{}));
  w.set("t.nested", Value::array_of_arrays({Value::array(ValueType::U16, std::vector<uint16_t>{1, 2}),
                                            Value::string_array({"x"}),
                                            Value::array_of_arrays({Value::array(ValueType::I8, std::vector<int8_t>{-1})})}));
  return w;
}

TEST(GgufRoundTrip, EveryValueTypeSurvives) {
  const Writer w = writer_with_every_value_type();
  const auto bytes = w.to_bytes();
  const File f = File::parse(bytes);
  const Metadata& md = f.metadata();
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(md.size(), 20u);
  EXPECT_EQ(md.get_int("t.u8"), 250);
  EXPECT_EQ(md.get_int("t.i8"), -100);
  EXPECT_EQ(md.get_int("t.u16"), 65000);
  EXPECT_EQ(md.get_int("t.i16"), -32000);
  EXPECT_EQ(md.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(md.get_int("t.i32"), -2000000000);
  EXPECT_EQ(md.get_uint("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(md.get_int("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(md.get_number("t.f32"), double(1.5e-5f));
  EXPECT_EQ(md.get_number("t.f64"), -2.25);
  EXPECT_TRUE(md.get_bool("t.bool"));
  EXPECT_EQ(md.get_string("t.string"), "héllo\nworld");
  EXPECT_EQ(md.get_string("t.empty_string"), "");
  EXPECT_EQ(md.at("t.strings").strings("t.strings"), (std::vector<std::string>{"a", "", "<0x0A>", "▁the"}));
  EXPECT_EQ(md.at("t.floats").to_floats("t.floats"), (std::vector<float>{0.5f, -1.0f, 3.25f}));
  EXPECT_EQ(md.at("t.ints").to_ints("t.ints"), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(md.at("t.bools").size(), 3u);
  EXPECT_EQ(md.at("t.empty").size(), 0u);
  const Value& nested = md.at("t.nested");
  ASSERT_EQ(nested.arrays().size(), 3u);
  EXPECT_EQ(nested.arrays()[0].to_ints("n"), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(nested.arrays()[1].strings("n"), (std::vector<std::string>{"x"}));
  EXPECT_EQ(nested.arrays()[2].arrays()[0].to_ints("n"), (std::vector<int32_t>{-1}));
  // Order is kept.
  EXPECT_EQ(md.entries().front().first, "general.architecture");
  EXPECT_EQ(md.entries().back().first, "t.nested");
}

TEST(GgufRoundTrip, WrongTypeAccessNamesTheKey) {
  const auto bytes = writer_with_every_value_type().to_bytes();
  const File f = File::parse(bytes);
  try {
    (void)f.metadata().get_int("t.string");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'t.string' is a string, expected an integer"), std::string::npos) << e.what();
  }
  try {
    (void)f.metadata().get_string("no.such.key");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'no.such.key' is missing"), std::string::npos) << e.what();
  }
}

TEST(GgufRoundTrip, TensorsKeepTypeShapeAndBytesAtEveryAlignment) {
  for (uint64_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    Writer w(alignment);
    w.set("general.architecture", Value::string("test"));
    const auto f32 = iota_bytes(4 * 3 * 5);
    const auto q4 = iota_bytes(18 * 2 * 3, 11);     // 64 x 3 Q4_0: 2 blocks a row
    const auto q6k = iota_bytes(210 * 1 * 2, 5);    // 256 x 2 Q6_K
    const auto odd = iota_bytes(2 * 7, 3);          // 7 F16 values: exercises padding
    w.add_tensor("a", DType::F32, {3, 5}, f32);
    w.add_tensor("b", DType::Q4_0, {64, 3}, q4);
    w.add_tensor("c", DType::Q6_K, {256, 1, 2}, q6k);
    w.add_tensor("d", DType::F16, {7}, odd);
    const auto bytes = w.to_bytes();
    const File f = File::parse(bytes);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), 4u);
    const TensorInfo& b = f.tensor("b");
    EXPECT_EQ(b.type, DType::Q4_0);
    EXPECT_EQ(b.shape(), (std::vector<uint64_t>{64, 3}));
    EXPECT_EQ(b.n_elements, 192u);
    EXPECT_EQ(std::vector<uint8_t>(b.data, b.data + b.n_bytes), q4);
    const TensorInfo& c = f.tensor("c");
    EXPECT_EQ(c.shape(), (std::vector<uint64_t>{256, 1, 2}));
    EXPECT_EQ(std::vector<uint8_t>(c.data, c.data + c.n_bytes), q6k);
    const TensorInfo& d = f.tensor("d");
    EXPECT_EQ(std::vector<uint8_t>(d.data, d.data + d.n_bytes), odd);
    for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;
    EXPECT_EQ(f.n_params(), 15u + 192u + 512u + 7u);
  }
}

TEST(GgufRoundTrip, WriterRejectsInconsistentTensors) {
  Writer w;
  const auto bytes = iota_bytes(10);
  EXPECT_THROW(w.add_tensor("x", DType::F32, {3}, bytes), Error);      // 12 bytes needed
  EXPECT_THROW(w.add_tensor("x", DType::Q4_0, {33}, bytes), Error);    // not a block multiple
  EXPECT_THROW(w.add_tensor("x", DType::F32, {}, bytes), Error);
  EXPECT_THROW(Writer(3), Error);
}

// Re-writing a llama.cpp-written file from what we read gives the same bytes:
// the reader misses nothing and the writer lays out exactly as ggml does.
TEST(GgufRoundTrip, RewritesLlamaCppFilesByteForByte) {
  std::vector<fs::path> files = hearth::test::fixture_files("models", ".gguf");
  files.push_back(hearth::test::source_dir() / "models" / "stories260K.gguf");
  ASSERT_FALSE(files.empty());
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const File f = File::open(path.string());
    Writer w(f.alignment());
    for (const auto& [key, value] : f.metadata().entries())
      if (key != "general.alignment") w.set(key, value);
    for (const auto& t : f.tensors()) w.add_tensor_view(t.name, t.type, t.shape(), t.bytes());
    const auto rewritten = w.to_bytes();
    const std::string original = hearth::test::read_text(path);
    ASSERT_EQ(rewritten.size(), original.size());
    EXPECT_EQ(std::memcmp(rewritten.data(), original.data(), original.size()), 0);
  }
}

TEST(GgufSplit, ThreePartsOpenAsOneModel) {
  const fs::path dir = fs::temp_directory_path() / "hearth_split_test";
  fs::create_directories(dir);
  const std::string prefix = (dir / "model").string();
  const auto data = iota_bytes(4 * 8);
  for (uint32_t part = 0; part < 3; ++part) {
    Writer w;
    if (part == 0) w.set("general.architecture", Value::string("llama"));
    w.set("split.no", Value::u16(uint16_t(part)));
    w.set("split.count", Value::u16(3));
    w.set("split.tensors.count", Value::i32(5));
    for (int i = 0; i < (part == 2 ? 1 : 2); ++i)
      w.add_tensor("t" + std::to_string(part * 2 + i), DType::F32, {8}, data);
    w.write(split_path(prefix, part + 1, 3));
  }
  const File f = File::open(split_path(prefix, 1, 3));
  EXPECT_EQ(f.n_files(), 3u);
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.metadata().get_string("general.architecture"), "llama");
  for (int i = 0; i < 5; ++i) {
    const TensorInfo& t = f.tensor("t" + std::to_string(i));
    EXPECT_EQ(t.file_index, uint32_t(i / 2));
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes), data);
  }
  // Opening a later part, or a set with a part missing, is an error that says so.
  EXPECT_THROW(File::open(split_path(prefix, 2, 3)), Error);
  fs::remove(split_path(prefix, 3, 3));
  try {
    File::open(split_path(prefix, 1, 3));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model-00003-of-00003.gguf"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(GgufSplitName, ParsesTheLlamaCppPattern) {
  const auto name = parse_split_name("/m/Qwen3-30B-Q4_K_M-00002-of-00005.gguf");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->prefix, "/m/Qwen3-30B-Q4_K_M");
  EXPECT_EQ(name->index, 2u);
  EXPECT_EQ(name->count, 5u);
  EXPECT_FALSE(parse_split_name("/m/model.gguf"));
  EXPECT_EQ(split_path("a/b", 1, 12), "a/b-00001-of-00012.gguf");
}

}  // namespace

namespace {

TEST(GgufRoundTrip, DeferredTensorsAreFilledWhileWriting) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  const auto fixed = iota_bytes(4 * 3);
  w.add_tensor("fixed", DType::F32, {3}, fixed);
  w.add_tensor_deferred("filled", DType::Q8_0, {64, 2});
  const fs::path path = fs::temp_directory_path() / "hearth_deferred.gguf";
  std::vector<size_t> calls;
  w.write(path.string(), [&](size_t index, std::span<uint8_t> bytes) {
    calls.push_back(index);
    EXPECT_EQ(bytes.size(), 34u * 4u);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 3);
  });
  EXPECT_EQ(calls, std::vector<size_t>{1});
  const File f = File::open(path.string());
  const TensorInfo& t = f.tensor("filled");
  ASSERT_EQ(t.n_bytes, 136u);
  for (size_t i = 0; i < t.n_bytes; ++i) ASSERT_EQ(t.data[i], uint8_t(i * 3));
  EXPECT_EQ(std::vector<uint8_t>(f.tensor("fixed").data, f.tensor("fixed").data + 12), fixed);
  EXPECT_THROW(w.to_bytes(), Error);  // a deferred tensor needs the fill callback
  fs::remove(path);
}

}  // namespace

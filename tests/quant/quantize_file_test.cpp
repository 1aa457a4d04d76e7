// The file quantizer on data every checkout has: llama.cpp's kernel outputs
// (reference/quants.gguf), stories260K (all F32, 172-wide ffn_down), and the
// errors a user can run into.
#include <sys/stat.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/quantize_file.h"
#include "quant_test_util.h"

namespace hearth {
namespace {

double rmse(const std::vector<float>& a, const float* b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(sum / double(a.size()));
}

// quants.gguf's fixture names the k-quant types by ggml type (Q4_K); the
// quantizer's row conversion must reach llama.cpp's error for each.
TEST(QuantizeRows, ErrorWithinTwoPercentOfLlamaCpp) {
  const auto path = test::fixture("reference/quants.gguf");
  ASSERT_FALSE(path.empty()) << "reference/quants.gguf is in tests/data";
  const gguf::File file = gguf::File::open(path.string());
  const int64_t n_per_row = file.metadata().get_int("quants.n_per_row");
  const int64_t n_rows = file.metadata().get_int("quants.n_rows");
  const auto& src_info = file.tensor("src");
  std::vector<float> src(size_t(n_per_row * n_rows));
  std::memcpy(src.data(), src_info.data, src.size() * sizeof(float));
  const auto src_bytes = reinterpret_cast<const uint8_t*>(src.data());

  ThreadPool pool(2);
  const auto types = file.metadata().at("quants.types").strings("quants.types");
  ASSERT_EQ(types.size(), 14u);
  fmt::print("{:<8} {:>12} {:>12} {:>8} {}\n", "type", "hearth", "llama.cpp", "ratio", "bytes");
  for (const std::string& name : types) {
    SCOPED_TRACE(name);
    const DType type = *dtype_from_name(name);
    std::vector<uint8_t> q(row_bytes(type, n_per_row) * n_rows);
    quant::convert_rows(DType::F32, type, src_bytes, q.data(), n_rows, n_per_row, pool);
    std::vector<float> back(src.size());
    quant::convert_rows(type, DType::F32, q.data(), reinterpret_cast<uint8_t*>(back.data()), n_rows, n_per_row, pool);

    const auto& theirs_q = file.tensor("q." + name);
    const auto& theirs_deq = file.tensor("deq." + name);
    const double ours = rmse(src, back.data());
    const double theirs = rmse(src, reinterpret_cast<const float*>(theirs_deq.data));
    const bool same_bytes = theirs_q.n_bytes == q.size() && std::equal(q.begin(), q.end(), theirs_q.data);
    const double ratio = theirs > 0 ? ours / theirs : (ours == 0 ? 1.0 : INFINITY);
    fmt::print("{:<8} {:>12.6g} {:>12.6g} {:>8.5f} {}\n", name, ours, theirs, ratio,
               same_bytes ? "identical" : "differ");
    EXPECT_LE(ratio, 1.02);
    EXPECT_TRUE(same_bytes);  // ggml_quantize_chunk without imatrix, as llama-quantize calls it
  }
}

std::filesystem::path stories() { return test::source_dir() / "models" / "stories260K.gguf"; }

quant::QuantizeSummary quantize(const std::filesystem::path& in, const std::filesystem::path& out,
                                const std::string& type, int threads = 2) {
  quant::QuantizeOptions options;
  options.threads = threads;
  return quant::quantize_file(in.string(), out.string(), *quant::quant_target_from_name(type), options);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(QuantizeFile, Stories260KQ4_K_MFallsBackLikeLlamaCpp) {
  ASSERT_TRUE(std::filesystem::exists(stories()));
  const auto out = test::temp_path("stories-Q4_K_M.gguf");
  std::vector<size_t> progress_seen;
  quant::QuantizeOptions options;
  options.threads = 3;
  options.on_progress = [&](const quant::QuantizeProgress& p) { progress_seen.push_back(p.index); };
  const auto summary =
      quant::quantize_file(stories().string(), out.string(), *quant::quant_target_from_name("Q4_K_M"), options);
  const gguf::File input = gguf::File::open(stories().string());
  const gguf::File q = gguf::File::open(out.string());
  ASSERT_EQ(q.tensors().size(), 48u);
  EXPECT_EQ(summary.n_tensors, 48u);
  EXPECT_EQ(progress_seen.size(), 48u);
  EXPECT_EQ(progress_seen.back(), 48u);
  // Expected types from llama.cpp's rules: rows of 64 cannot hold 256-blocks,
  // so Q4_K falls back to Q5_0, the output to Q8_0, use_more_bits V (layers 2
  // and 4 of 5) Q6_K -> Q8_0, and the 172-wide ffn_down to F16.
  for (const auto& t : q.tensors()) {
    DType want = DType::Q5_0;
    if (t.n_dims == 1) want = DType::F32;
    else if (t.name == "output.weight") want = DType::Q8_0;
    else if (t.name.ends_with("ffn_down.weight")) want = DType::F16;
    else if (t.name == "blk.2.attn_v.weight" || t.name == "blk.4.attn_v.weight") want = DType::Q8_0;
    EXPECT_EQ(dtype_name(t.type), dtype_name(want)) << t.name;
    EXPECT_EQ(t.shape(), input.tensor(t.name).shape()) << t.name;
  }
  EXPECT_EQ(q.tensors().front().name, "output.weight");  // llama-quantize's order
  EXPECT_EQ(q.tensors()[3].name, "blk.0.attn_k.weight");
  EXPECT_EQ(q.metadata().get_int("general.file_type"), 15);
  EXPECT_EQ(q.metadata().at("general.quantization_version").type(), gguf::ValueType::U32);
  EXPECT_EQ(q.metadata().get_int("general.quantization_version"), 2);
  // Every input key kept, in order, the two re-set keys last.
  const auto& in_keys = input.metadata().entries();
  const auto& out_keys = q.metadata().entries();
  ASSERT_EQ(out_keys.size(), in_keys.size() + 2);  // stories260K has no file_type key
  for (size_t i = 0; i < in_keys.size(); ++i) {
    EXPECT_EQ(out_keys[i].first, in_keys[i].first);
    EXPECT_TRUE(out_keys[i].second == in_keys[i].second) << in_keys[i].first;
  }
  EXPECT_EQ(out_keys[in_keys.size()].first, "general.quantization_version");
  EXPECT_EQ(out_keys[in_keys.size() + 1].first, "general.file_type");
  // F32 tensors are copied, F16 is plain rounding of the source.
  const auto& down = q.tensor("blk.0.ffn_down.weight");
  std::vector<float> back(down.n_elements);
  ref::dequantize_row(DType::F16, down.data, back.data(), int64_t(back.size()));
  const float* orig = reinterpret_cast<const float*>(input.tensor("blk.0.ffn_down.weight").data);
  for (size_t i = 0; i < back.size(); ++i) ASSERT_NEAR(back[i], orig[i], std::abs(orig[i]) * 1e-3 + 1e-7) << i;
}

TEST(QuantizeFile, BytesDoNotDependOnTheThreadCount) {
  const auto one = test::temp_path("one.gguf");
  const auto five = test::temp_path("five.gguf");
  quantize(stories(), one, "IQ4_XS", 1);
  quantize(stories(), five, "IQ4_XS", 5);
  const auto bytes = test::file_bytes(one);
  EXPECT_GT(bytes.size(), 100000u);
  EXPECT_TRUE(bytes == test::file_bytes(five));
}

TEST(QuantizeFile, TargetsWithoutFallbackRefuseOddRows) {
  const std::string message = error_of([&] { quantize(stories(), test::temp_path("q8.gguf"), "Q8_0"); });
  EXPECT_NE(message.find("blk.0.ffn_down.weight"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(test::temp_path("q8.gguf")));  // nothing half-written
}

TEST(QuantizeFile, RefusesQuantizedInput) {
  const auto input = test::fixture("models/synth-qwen2-Q4_K_M.gguf");
  ASSERT_FALSE(input.empty());
  const std::string message = error_of([&] { quantize(input, test::temp_path("re.gguf"), "Q8_0"); });
  EXPECT_NE(message.find("requantizing is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("already quantized (tensor 'output.weight' is q6_K)"), std::string::npos) << message;
}

TEST(QuantizeFile, UnwritableOutputNamesThePath) {
  const auto dir = test::temp_path("no-such-dir");
  const std::string bad = (dir / "sub" / "out.gguf").string();
  const std::string message = error_of([&] { quantize(stories(), bad, "Q4_K_M"); });
  EXPECT_NE(message.find(bad), std::string::npos) << message;
}

TEST(QuantizeFile, RefusesToOverwriteItsInput) {
  const auto copy = test::temp_path("copy.gguf");
  std::filesystem::copy_file(stories(), copy, std::filesystem::copy_options::overwrite_existing);
  const std::string message = error_of([&] { quantize(copy, copy, "Q4_K_M"); });
  EXPECT_NE(message.find("is the input"), std::string::npos) << message;
  EXPECT_EQ(test::file_bytes(copy), test::file_bytes(stories()));
}

// A one-block F32 model whose ffn_up holds `value` at one place.
std::filesystem::path model_with_value(const std::string& name, float value) {
  gguf::Writer writer;
  writer.set("general.architecture", gguf::Value::string("llama"));
  writer.set("llama.block_count", gguf::Value::u32(1));
  std::vector<float> weights(256 * 64, 0.25f);
  weights[300] = value;
  writer.add_tensor("blk.0.ffn_up.weight", DType::F32, {256, 64},
                    {reinterpret_cast<const uint8_t*>(weights.data()), weights.size() * sizeof(float)});
  const auto path = test::temp_path(name);
  writer.write(path.string());
  return path;
}

TEST(QuantizeFile, RefusesNonFiniteResultsNamingTheTensor) {
  const auto nan_model = model_with_value("nan.gguf", std::nanf(""));
  std::string message = error_of([&] { quantize(nan_model, test::temp_path("nan-q.gguf"), "Q4_K_M"); });
  EXPECT_NE(message.find("tensor 'blk.0.ffn_up.weight': row 1 holds NaN"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(test::temp_path("nan-q.gguf")));
  // 1e6 is finite in f32 but overflows f16 (llama.cpp's row validation fails too).
  const auto big_model = model_with_value("big.gguf", 1e6f);
  message = error_of([&] { quantize(big_model, test::temp_path("big-f16.gguf"), "F16"); });
  EXPECT_NE(message.find("beyond f16's range"), std::string::npos) << message;
  EXPECT_EQ(error_of([&] { quantize(big_model, test::temp_path("big-bf16.gguf"), "BF16"); }), "");
}

TEST(QuantizeCli, ErrorsAndProgress) {
  const auto hearth = test::hearth_binary();
  if (!std::filesystem::exists(hearth)) GTEST_SKIP() << "hearth binary not built";
  auto unknown = test::run_command(fmt::format("{} quantize {} {} Q7_K 2>&1", hearth.string(), stories().string(),
                                               test::temp_path("x.gguf").string()));
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.out.find("unknown quantization type 'Q7_K'"), std::string::npos) << unknown.out;
  EXPECT_NE(unknown.out.find("Q4_K_M"), std::string::npos) << unknown.out;  // lists the valid ones
  const auto out = test::temp_path("cli.gguf");
  auto ok = test::run_command(
      fmt::format("{} quantize {} {} q4_k_m --threads 2 2>&1", hearth.string(), stories().string(), out.string()));
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("[48/48]"), std::string::npos) << ok.out;
  EXPECT_EQ(gguf::File::open(out.string()).metadata().get_int("general.file_type"), 15);
}

}  // namespace
}  // namespace hearth

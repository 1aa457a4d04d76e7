// Importance matrices: llama-imatrix's files read and written byte for byte,
// and hearth quantize --imatrix against llama-quantize --imatrix (digests of
// its outputs in tests/data/imatrix, made by make_refs.sh there).
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "quant/imatrix.h"
#include "quant/quantize_file.h"
#include "quant/weighted_quants.h"
#include "quant_test_util.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

const std::string kImatrixDir = "tests/data/imatrix";

fs::path data_file(const std::string& name) { return test::source_dir() / kImatrixDir / name; }

std::string fnv1a64(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return fmt::format("{:016x}", h);
}

std::string sha256_of(const fs::path& path) {
  const test::CommandResult r = test::run_command("sha256sum '" + path.string() + "'");
  EXPECT_EQ(r.status, 0) << "sha256sum failed";
  return r.out.substr(0, 64);
}

// Runs with the working directory at the source tree, so that the imatrix
// path hearth records in the file is the relative one llama-quantize got.
class InSourceDir {
 public:
  InSourceDir() : saved_(fs::current_path()) { fs::current_path(test::source_dir()); }
  ~InSourceDir() { fs::current_path(saved_); }

 private:
  fs::path saved_;
};

TEST(ImatrixFile, LlamaImatrixGgufRoundTripsByteForByte) {
  const quant::Imatrix m = quant::load_imatrix(data_file("stories260K.imatrix.gguf").string());
  EXPECT_FALSE(m.is_legacy);
  EXPECT_TRUE(m.has_metadata);
  EXPECT_EQ(m.chunk_size, 128);
  EXPECT_EQ(m.chunk_count, 16);
  ASSERT_EQ(m.datasets.size(), 1u);
  EXPECT_EQ(m.datasets[0], "tests/data/text/Apache-2.0.txt");
  EXPECT_EQ(m.entries.size(), 35u);  // 5 layers x 7 matrices of stories260K
  for (const auto& [name, e] : m.entries) EXPECT_EQ(e.counts, std::vector<int64_t>{16 * 128}) << name;
  const fs::path out = test::temp_path("roundtrip.imatrix.gguf");
  quant::save_imatrix_gguf(m, out.string());
  EXPECT_EQ(test::file_bytes(out), test::file_bytes(data_file("stories260K.imatrix.gguf")));
}

TEST(ImatrixFile, WritesTheLegacyDatFileAsLlamaImatrix) {
  const quant::Imatrix m = quant::load_imatrix(data_file("stories260K.imatrix.gguf").string());
  const fs::path out = test::temp_path("legacy.imatrix.dat");
  quant::save_imatrix_dat(m, out.string());
  EXPECT_EQ(test::file_bytes(out), test::file_bytes(data_file("stories260K.imatrix.dat")));

  const quant::Imatrix dat = quant::load_imatrix(data_file("stories260K.imatrix.dat").string());
  EXPECT_TRUE(dat.is_legacy);
  EXPECT_EQ(dat.chunk_count, 16);
  EXPECT_EQ(dat.datasets, m.datasets);
  // Either format gives llama-quantize's weights: sum / count (the .dat file
  // stores mean * ncall, one more rounding).
  const auto from_gguf = quant::importance_weights(m);
  const auto from_dat = quant::importance_weights(dat);
  ASSERT_EQ(from_gguf.size(), from_dat.size());
  for (const auto& [name, w] : from_gguf) {
    const auto& v = from_dat.at(name);
    ASSERT_EQ(w.size(), v.size()) << name;
    for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(v[i], w[i], 1e-6f * std::abs(w[i])) << name << " " << i;
  }
}

TEST(ImatrixFile, BrokenFilesNameTheProblem) {
  const fs::path truncated = test::temp_path("truncated.dat");
  auto bytes = test::file_bytes(data_file("stories260K.imatrix.dat"));
  bytes.resize(100);
  std::FILE* f = std::fopen(truncated.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  try {
    quant::load_imatrix(truncated.string());
    FAIL() << "a truncated file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ends inside"), std::string::npos) << e.what();
  }
  EXPECT_THROW(quant::load_imatrix(test::temp_path("missing.dat").string()), Error);
}

struct Reference {
  std::string file_sha256;
  std::vector<std::tuple<std::string, int, std::string>> tensors;  // name, ggml type, FNV-1a 64
};

std::map<std::string, Reference> load_references(const std::string& json_name) {
  const nlohmann::json j = nlohmann::json::parse(test::read_text(data_file(json_name)));
  std::map<std::string, Reference> out;
  for (const auto& [type, r] : j.items()) {
    Reference& ref = out[type];
    ref.file_sha256 = r["file_sha256"];
    for (const auto& t : r["layout"]["tensors"]) ref.tensors.emplace_back(t[0], t[1], t[2]);
  }
  return out;
}

// Quantizes `model` to every type of the reference with the importance
// matrix and compares: tensor names, types and order; the bytes of every
// tensor (FNV-1a digests) whose type hearth quantizes with the weights as ggml
// does; the whole file, metadata included (sha256), when all tensors are such.
void check_against_llama_quantize(const fs::path& model, const std::string& imatrix, const std::string& json) {
  InSourceDir in_source;
  size_t whole_files = 0;
  for (const auto& [type, ref] : load_references(json)) {
    SCOPED_TRACE(type);
    const fs::path out = test::temp_path(type + ".gguf");
    quant::QuantizeOptions options;
    options.threads = 2;
    options.imatrix_path = kImatrixDir + "/" + imatrix;
    quant::quantize_file(model.string(), out.string(), *quant::quant_target_from_name(type), options);
    const gguf::File ours = gguf::File::open(out.string());
    ASSERT_EQ(ours.tensors().size(), ref.tensors.size());
    bool all_weighted_like_ggml = true;
    for (size_t i = 0; i < ref.tensors.size(); ++i) {
      const auto& t = ours.tensors()[i];
      const auto& [name, type_id, digest] = ref.tensors[i];
      ASSERT_EQ(t.name, name) << "#" << i;
      ASSERT_EQ(int(t.type), type_id) << name << " is " << dtype_name(t.type);
      if (quant::uses_importance_like_ggml(t.type))
        EXPECT_EQ(fnv1a64(t.data, t.n_bytes), digest) << name << " (" << dtype_name(t.type) << ") bytes differ";
      else
        all_weighted_like_ggml = false;
    }
    if (all_weighted_like_ggml) {
      EXPECT_EQ(sha256_of(out), ref.file_sha256) << "whole file (metadata) differs";
      ++whole_files;
    }
  }
  // Every type these references hold is one hearth quantizes with the weights
  // as ggml does, so every file was compared whole.
  EXPECT_EQ(whole_files, load_references(json).size());
}

TEST(QuantizeImatrix, Stories260KMatchesLlamaQuantize) {
  check_against_llama_quantize(test::source_dir() / "models/stories260K.gguf", "stories260K.imatrix.gguf",
                               "stories260K-quantize.json");
}

TEST(QuantizeImatrix, SynthLlamaMatchesLlamaQuantize) {
  if (!test::have_full_fixtures()) GTEST_SKIP() << "needs ../shared/fixtures (synth-llama-F32.gguf is not in tests/data)";
  check_against_llama_quantize(test::fixture("models/synth-llama-F32.gguf"), "synth-llama.imatrix.gguf",
                               "synth-llama-quantize.json");
}

// A one-layer model whose rows fit the 256-wide IQ types.
fs::path write_wide_model() {
  const fs::path path = test::temp_path("wide.gguf");
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("llama.block_count", gguf::Value::u32(1));
  std::vector<float> values(256 * 8);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(int(i * 37 % 101) - 50) / 50.0f;
  const std::span<const uint8_t> bytes{reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4};
  w.add_tensor("blk.0.attn_q.weight", DType::F32, {256, 8}, bytes);
  w.add_tensor("blk.0.ffn_up.weight", DType::F32, {256, 8}, bytes);
  w.write(path.string());
  return path;
}

TEST(QuantizeImatrix, TypesThatNeedAnImatrixRefuseWithoutOne) {
  const fs::path model = write_wide_model();
  for (const char* type : {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "Q2_K_S", "IQ1_S", "IQ1_M"}) {
    try {
      quant::quantize_file(model.string(), test::temp_path(std::string(type) + ".gguf").string(),
                           *quant::quant_target_from_name(type), {});
      ADD_FAILURE() << type << " quantized without an importance matrix";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("needs an importance matrix"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("hearth imatrix"), std::string::npos) << e.what();
    }
  }
  // The types llama-quantize makes without one still work.
  EXPECT_NO_THROW(quant::quantize_file(model.string(), test::temp_path("iq3_s.gguf").string(),
                                       *quant::quant_target_from_name("IQ3_S"), {}));
}

TEST(QuantizeImatrix, ImatrixOfAnotherModelIsRefused) {
  const fs::path model = write_wide_model();
  quant::QuantizeOptions options;
  options.imatrix_path = data_file("stories260K.imatrix.gguf").string();
  // stories260K has blk.0.attn_q.weight with 64 columns, this model 256.
  try {
    quant::quantize_file(model.string(), test::temp_path("q.gguf").string(), *quant::quant_target_from_name("Q4_0"),
                         options);
    FAIL() << "a mismatched importance matrix was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hearth

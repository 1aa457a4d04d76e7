// mmproj loading and the image embeddings of the tiny Gemma 3 projector
// against llama.cpp's (libmtmd at the fixtures' commit; how they were made:
// tests/data/vision/README.md), for images of several sizes, aspect ratios
// and formats.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/read_file.h"
#include "gguf/writer.h"
#include "vision/vision_model.h"

using namespace hearth;
using namespace hearth::vision;

namespace {

std::filesystem::path vision_data(const std::string& name) { return test::source_dir() / "tests/data/vision" / name; }

std::shared_ptr<const gguf::File> open_mmproj() {
  const auto path = test::fixture("models/mmproj-tinygemma3.gguf");
  EXPECT_FALSE(path.empty()) << "mmproj-tinygemma3.gguf is in neither fixture set";
  return std::make_shared<const gguf::File>(gguf::File::open(path.string()));
}

std::vector<float> read_floats(const std::filesystem::path& path) {
  const std::string bytes = read_file(path.string());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

TEST(VisionModel, LoadsTheGemma3ProjectorHyperParameters) {
  const auto model = VisionModel::load(open_mmproj());
  const VisionHParams& hp = model->hparams();
  EXPECT_EQ(hp.projector, "gemma3");
  EXPECT_EQ(hp.image_size, 32);
  EXPECT_EQ(hp.patch_size, 2);
  EXPECT_EQ(hp.n_embd, 128);
  EXPECT_EQ(hp.n_ff, 512);
  EXPECT_EQ(hp.n_head, 4);
  EXPECT_EQ(hp.n_layer, 4);
  EXPECT_EQ(hp.n_merge, 1);  // clip.vision.projector.scale_factor
  EXPECT_EQ(hp.n_embd_out, 128);
  EXPECT_FLOAT_EQ(hp.image_mean[0], 0.5f);
  EXPECT_FLOAT_EQ(hp.image_std[2], 0.5f);
  EXPECT_NEAR(hp.eps, 1e-6f, 1e-12);
  EXPECT_EQ(model->tokens_per_image(), 256);
  EXPECT_EQ(hp.image_begin, "<start_of_image>");
  EXPECT_TRUE(hp.image_sees_whole_image);
}

std::string load_error(gguf::Writer& w) {
  const auto bytes = std::make_shared<std::vector<uint8_t>>(w.to_bytes());
  try {
    auto file = std::make_shared<const gguf::File>(gguf::File::parse(*bytes, "test.gguf"));
    VisionModel::load(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(VisionModel, UnsupportedProjectorNamesItAndTheSupportedOnes) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("clip"));
  w.set("clip.projector_type", gguf::Value::string("qwen2vl_merger"));
  const std::string err = load_error(w);
  EXPECT_NE(err.find("'qwen2vl_merger' is not supported"), std::string::npos) << err;
  EXPECT_NE(err.find("supported: gemma3"), std::string::npos) << err;

  gguf::Writer text_model;
  text_model.set("general.architecture", gguf::Value::string("gemma3"));
  const std::string not_clip = load_error(text_model);
  EXPECT_NE(not_clip.find("not a multimodal projector"), std::string::npos) << not_clip;

  // A gemma3 projector missing its tensors names the first one.
  gguf::Writer empty;
  empty.set("general.architecture", gguf::Value::string("clip"));
  empty.set("clip.projector_type", gguf::Value::string("gemma3"));
  empty.set("clip.vision.image_size", gguf::Value::u32(32));
  empty.set("clip.vision.patch_size", gguf::Value::u32(2));
  empty.set("clip.vision.embedding_length", gguf::Value::u32(128));
  empty.set("clip.vision.feed_forward_length", gguf::Value::u32(512));
  empty.set("clip.vision.attention.head_count", gguf::Value::u32(4));
  empty.set("clip.vision.block_count", gguf::Value::u32(1));
  empty.set("clip.vision.image_mean", gguf::Value::array(gguf::ValueType::F32, std::vector<float>{0.5f, 0.5f, 0.5f}));
  empty.set("clip.vision.image_std", gguf::Value::array(gguf::ValueType::F32, std::vector<float>{0.5f, 0.5f, 0.5f}));
  empty.set("clip.use_gelu", gguf::Value::boolean(true));
  const std::string missing = load_error(empty);
  EXPECT_NE(missing.find("tensor 'v.patch_embd.weight' is missing"), std::string::npos) << missing;
}

// The encoder through the scalar reference backend and the SIMD one, several
// threads: the same embeddings up to float summation order, which the Q8_0
// matmuls amplify (a last-bit difference can flip an activation's int8
// rounding): measured 0.012 of values up to 4.9.
TEST(VisionModel, EncoderAgreesAcrossBackends) {
  const auto model = VisionModel::load(open_mmproj());
  auto ref = backend::make_ref_backend();
  auto cpu = backend::make_cpu_backend(3);
  for (const char* name : {"wide48x20.png", "small9x7.gif"}) {
    const RgbImage image = read_image_file(vision_data(std::string("images/") + name).string());
    const ImageEmbeddings a = model->encode(*ref, image), b = model->encode(*cpu, image);
    ASSERT_EQ(a.n_tokens, 256);
    ASSERT_EQ(a.data.size(), b.data.size());
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      max_diff = std::max(max_diff, double(std::fabs(a.data[i] - b.data[i])));
      max_abs = std::max(max_abs, double(std::fabs(a.data[i])));
    }
    EXPECT_LT(max_diff, 1e-2 * std::max(1.0, max_abs)) << name;
    EXPECT_GT(max_abs, 0.1) << name << ": embeddings are not all zero";
  }
}

// Every reference image: hearth's embeddings against llama.cpp's rows.
TEST(VisionModel, EmbeddingsMatchLlamaCpp) {
  if (!std::filesystem::exists(vision_data("reference/embeddings.json")))
    GTEST_SKIP() << "llama.cpp's references are not generated yet: tests/data/vision/make_refs.sh (README.md)";
  const auto index = nlohmann::json::parse(read_file(vision_data("reference/embeddings.json").string()));
  const auto model = VisionModel::load(open_mmproj());
  auto be = backend::make_cpu_backend(2);
  const double max_bound = index["tolerance"]["max"].get<double>();
  const double mean_bound = index["tolerance"]["mean"].get<double>();
  ASSERT_GE(index["images"].size(), 5u);
  for (const auto& c : index["images"]) {
    const std::string name = c["image"];
    SCOPED_TRACE(name);
    const ImageEmbeddings e = model->encode(*be, read_image_file(vision_data("images/" + name).string()));
    ASSERT_EQ(e.n_tokens, c["n_tokens"].get<int64_t>());
    ASSERT_EQ(e.n_embd, c["n_embd"].get<int64_t>());
    const std::vector<float> ref = read_floats(vision_data("reference/" + c["rows_file"].get<std::string>()));
    const auto rows = c["rows"].get<std::vector<int64_t>>();
    ASSERT_EQ(ref.size(), rows.size() * size_t(e.n_embd));
    double max_diff = 0, sum_diff = 0, ref_scale = 0;
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t i = 0; i < e.n_embd; ++i) {
        const double d = std::fabs(double(e.data[size_t(rows[r] * e.n_embd + i)]) - ref[r * size_t(e.n_embd) + size_t(i)]);
        max_diff = std::max(max_diff, d);
        sum_diff += d;
        ref_scale = std::max(ref_scale, double(std::fabs(ref[r * size_t(e.n_embd) + size_t(i)])));
      }
    const double mean_diff = sum_diff / double(ref.size());
    EXPECT_LE(max_diff, max_bound) << "largest |hearth - llama.cpp| (values up to " << ref_scale << ")";
    EXPECT_LE(mean_diff, mean_bound);
    // The whole image's checksum too (every row, not only the stored ones).
    double sum = 0;
    for (float v : e.data) sum += v;
    EXPECT_NEAR(sum, c["sum_all"].get<double>(), c["sum_tolerance"].get<double>());
  }
}

}  // namespace

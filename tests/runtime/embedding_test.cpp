// Encoder embeddings (bert, nomic-bert) against reference vectors of the
// synthetic models in tests/data/models from llama.cpp's llama-embedding
// (tests/data/reference/embeddings:
// how they were made and why the tolerance is what it is): pooling as the
// GGUF declares, CLS / mean / last, normalised or not, and the tokens hearth's
// WPM tokenizer gives for the texts.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/embedding.h"
#include "tokenizer/tokenizer.h"

using namespace hearth;

namespace {

nlohmann::json reference() {
  return nlohmann::json::parse(test::read_text(test::fixture("reference/embeddings/embeddings.json")));
}

struct Loaded {
  std::shared_ptr<const gguf::File> file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<backend::Backend> backend;
};

Loaded load(const std::string& name, const std::string& isa = "") {
  Loaded l;
  const auto path = test::fixture("models/" + name + ".gguf");
  if (path.empty()) throw std::runtime_error("missing fixture models/" + name + ".gguf");
  l.file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  l.model = model::Model::load(l.file);
  l.backend = backend::make_cpu_backend(1, isa);
  return l;
}

TEST(Embedding, MatchesTheReferenceForEveryCase) {
  const nlohmann::json ref = reference();
  const double tolerance = ref["tolerance"]["max_abs"].get<double>();
  ASSERT_GE(ref["cases"].size(), 12u);
  for (const std::string isa : {"scalar", ""}) {
    for (const auto& c : ref["cases"]) {
      Loaded l = load(c["model"].get<std::string>(), isa);
      EXPECT_TRUE(l.model->hparams().encoder);
      EXPECT_EQ(l.model->hparams().pooling, c["model_pooling"].get<int>());
      l.model->hparams_.pooling = c["pooling"].get<int>();
      runtime::Embedder embedder(*l.model, *l.backend, 64);
      const auto tokens = c["tokens"].get<std::vector<int32_t>>();
      const std::vector<float> v = embedder.embed(tokens, c["normalize"].get<bool>());
      const auto expected = c["embedding"].get<std::vector<double>>();
      ASSERT_EQ(v.size(), expected.size());
      double worst = 0, norm = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        worst = std::max(worst, std::abs(double(v[i]) - expected[i]));
        norm += double(v[i]) * v[i];
      }
      EXPECT_LE(worst, tolerance) << c["model"] << " '" << c["text"] << "' pooling " << c["pooling"] << " isa '" << isa << "'";
      if (c["normalize"].get<bool>()) EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
    }
  }
}

TEST(Embedding, TheWpmTokenizerGivesTheReferenceTokens) {
  for (const auto& c : reference()["cases"]) {
    Loaded l = load(c["model"].get<std::string>());
    const auto tok = tokenizer::Tokenizer::from_gguf(*l.file);
    EXPECT_EQ(tok.encode(c["text"].get<std::string>(), true, false), c["tokens"].get<std::vector<int32_t>>()) << c["text"];
  }
}

TEST(Embedding, DifferentTextsGiveDifferentVectorsAndLimitsAreErrors) {
  Loaded l = load("synth-bert-F16");
  runtime::Embedder embedder(*l.model, *l.backend, 8);
  EXPECT_EQ(embedder.max_tokens(), 8);
  EXPECT_EQ(embedder.pooling(), runtime::Pooling::Cls);
  const std::vector<int32_t> a = {101, 1996, 2034, 2028, 102}, b = {101, 1996, 2028, 102};
  const auto va = embedder.embed(a), vb = embedder.embed(b);
  double dot = 0;
  for (size_t i = 0; i < va.size(); ++i) dot += double(va[i]) * vb[i];
  EXPECT_LT(dot, 0.9999);
  EXPECT_EQ(embedder.embed(a), va) << "the same text gives the same vector";
  const std::vector<int32_t> too_long(9, 1996);
  EXPECT_THROW(embedder.embed(too_long), Error);
  EXPECT_THROW(embedder.embed(std::vector<int32_t>{}), Error);
  // A decoder is not an embedding model.
  Loaded decoder = load("synth-qwen2-Q4_K_M");
  EXPECT_THROW(runtime::Embedder(*decoder.model, *decoder.backend, 8), Error);
}

}  // namespace

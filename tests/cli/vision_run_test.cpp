// Images through the language model: the tiny Gemma 3 projector with the
// two-layer cut of the random-weight gemma3 model whose width matches it
// (tests/data/models/tiny-gemma3-vision-lm.gguf). The prompt's tokens,
// the logits after the image prompt and the greedy continuation against
// llama.cpp's llama-mtmd-cli path (tests/data/vision/README.md), in process
// and through `hearth run --image`.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/engine_options.h"
#include "cli/image_input.h"
#include "common/fixtures.h"
#include "core/read_file.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth;

namespace {

fs::path vision_data(const std::string& name) { return test::source_dir() / "tests/data/vision" / name; }

struct Case {
  std::string name, image, prompt;
};

std::vector<Case> cases() {
  const json index = json::parse(test::read_text(vision_data("reference/prompts.json")));
  std::vector<Case> out;
  for (const auto& c : index["cases"]) out.push_back({c["name"], c["image"], c["prompt"]});
  return out;
}

bool have_references() {
  for (const Case& c : cases())
    if (!fs::exists(vision_data("reference/" + c.name + ".json"))) return false;
  return true;
}
#define REQUIRE_REFERENCES()                                                                              \
  if (!have_references())                                                                                 \
  GTEST_SKIP() << "llama.cpp's references are not generated yet: tests/data/vision/make_refs.sh (README.md)"

std::string lm_path() { return test::fixture("models/tiny-gemma3-vision-lm.gguf").string(); }
std::string mmproj_path() { return test::fixture("models/mmproj-tinygemma3.gguf").string(); }

std::vector<float> read_floats(const fs::path& path) {
  const std::string bytes = read_file(path.string());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

// The F32/F16 class of ../shared/fixtures/README.md (Tolerances).
constexpr double kMax = 0.15, kMean = 0.021, kMargin = 0.044;

TEST(VisionRun, LogitsAndGreedyAfterAnImagePromptMatchLlamaCpp) {
  REQUIRE_REFERENCES();
  ASSERT_FALSE(lm_path().empty()) << "tests/data/models/tiny-gemma3-vision-lm.gguf is missing";
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const json ref = json::parse(test::read_text(vision_data("reference/" + c.name + ".json")));
    const std::vector<float> ref_logits = read_floats(vision_data("reference/" + c.name + ".bin"));
    const int64_t n_vocab = ref["n_vocab"];
    cli::EngineOptions options;
    options.n_threads = 2;
    options.flash_attn = "off";
    cli::LoadedEngine engine = cli::load_engine(lm_path(), options);
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
    const std::vector<int32_t> last = cli::evaluate_image_prompt(
        engine, tok, lm_path(), mmproj_path(), {vision_data("images/" + c.image).string()}, c.prompt);
    // The prompt: llama.cpp's chunks (text, image, text): the last one equal.
    EXPECT_EQ(json(last), ref["chunks"].back()["text"]);
    EXPECT_EQ(engine.session->n_past() + int64_t(last.size()), ref["n_past"].get<int64_t>());

    std::vector<float> logits;
    engine.session->eval(last, /*all_logits=*/false, logits);
    const auto generated = ref["generated"].get<std::vector<int32_t>>();
    const auto margins = ref["top2_margin"].get<std::vector<double>>();
    double max_diff = 0, sum_diff = 0;
    int64_t n_values = 0;
    const float* row = logits.data();
    for (size_t step = 0; step <= generated.size(); ++step) {
      const float* want = ref_logits.data() + step * size_t(n_vocab);
      int32_t best = 0;
      for (int64_t v = 0; v < n_vocab; ++v) {
        const double d = std::fabs(double(row[v]) - want[v]);
        max_diff = std::max(max_diff, d);
        sum_diff += d;
        if (row[v] > row[best]) best = int32_t(v);
      }
      n_values += n_vocab;
      if (step == generated.size()) break;
      if (best != generated[step]) {
        // A different greedy choice is allowed only at a near-tie; it ends the comparison.
        EXPECT_LE(margins[step], kMargin) << "step " << step << ": hearth " << best << ", llama.cpp " << generated[step];
        break;
      }
      row = engine.session->decode(best);
    }
    EXPECT_LE(max_diff, kMax);
    EXPECT_LE(sum_diff / double(n_values), kMean);
  }
}

// The language-model half alone, against libllama (refdump_lm in
// tests/data/vision/README.md): the prompt's pieces tokenized as mtmd does,
// 256 rows of fixed input embeddings decoded with causal attention off, the
// logits after the prompt and the greedy continuation.
float image_value(uint32_t r, uint32_t i) {
  const uint32_t x = (r * 131u + i) * 2654435761u;
  return float(int32_t(x % 2001u) - 1000) / 500.0f;
}

TEST(VisionRun, LanguageModelHalfMatchesLlamaCpp) {
  const json ref = json::parse(test::read_text(vision_data("reference/lm-describe.json")));
  const std::vector<float> ref_logits = read_floats(vision_data("reference/lm-describe.bin"));
  const int64_t n_vocab = ref["n_vocab"], n_image = ref["n_image"];
  cli::EngineOptions options;
  options.n_threads = 2;
  options.flash_attn = "off";
  cli::LoadedEngine engine = cli::load_engine(lm_path(), options);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
  const auto chunks = cli::image_prompt_chunks(engine, tok, "Describe this image.", 1,
                                               {"<start_of_image>", "<end_of_image>"});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(json(chunks[0].tokens), ref["tokens_before"]);
  EXPECT_EQ(chunks[1].image, 0);
  EXPECT_EQ(json(chunks[2].tokens), ref["tokens_after"]);

  const int64_t E = engine.model->hparams().n_embd;
  std::vector<float> rows(size_t(n_image * E));
  for (int64_t r = 0; r < n_image; ++r)
    for (int64_t i = 0; i < E; ++i) rows[size_t(r * E + i)] = image_value(uint32_t(r), uint32_t(i));
  std::vector<float> logits;
  engine.session->eval(chunks[0].tokens, false, logits);
  engine.session->eval_embeddings(rows.data(), n_image, /*see_whole_span=*/true);
  engine.session->eval(chunks[2].tokens, false, logits);

  const auto generated = ref["generated"].get<std::vector<int32_t>>();
  const auto margins = ref["top2_margin"].get<std::vector<double>>();
  double max_diff = 0, sum_diff = 0;
  int64_t n_values = 0;
  size_t matched = 0;
  const float* row = logits.data();
  for (size_t step = 0; step <= generated.size(); ++step) {
    const float* want = ref_logits.data() + step * size_t(n_vocab);
    int32_t best = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double d = std::fabs(double(row[v]) - want[v]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
      if (row[v] > row[best]) best = int32_t(v);
    }
    n_values += n_vocab;
    if (step == generated.size()) break;
    if (best != generated[step]) {
      EXPECT_LE(margins[step], kMargin) << "step " << step << ": hearth " << best << ", llama.cpp " << generated[step];
      break;
    }
    ++matched;
    row = engine.session->decode(best);
  }
  EXPECT_LE(max_diff, kMax);
  EXPECT_LE(sum_diff / double(n_values), kMean);
  std::printf("language-model half: %zu of %zu greedy steps equal; logits max |diff| %.4g, mean %.4g\n", matched,
              generated.size(), max_diff, sum_diff / double(n_values));
}

TEST(VisionRun, HearthRunImageGivesLlamaCppsGreedyContinuation) {
  REQUIRE_REFERENCES();
  ASSERT_FALSE(lm_path().empty()) << "tests/data/models/tiny-gemma3-vision-lm.gguf is missing";
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const json ref = json::parse(test::read_text(vision_data("reference/" + c.name + ".json")));
    const auto result = test::run_command(
        test::hearth_binary().string() + " run " + lm_path() + " --mmproj " + mmproj_path() + " --image " +
        vision_data("images/" + c.image).string() + " -p '" + c.prompt + "' -n " +
        std::to_string(ref["generated"].size()) + " --temp 0 --fa off --json 2>/dev/null");
    ASSERT_EQ(result.status, 0);
    const auto tokens = json::parse(result.out)["tokens"].get<std::vector<int32_t>>();
    const auto generated = ref["generated"].get<std::vector<int32_t>>();
    const auto margins = ref["top2_margin"].get<std::vector<double>>();
    for (size_t i = 0; i < generated.size() && i < tokens.size(); ++i) {
      if (tokens[i] == generated[i]) continue;
      EXPECT_LE(margins[i], kMargin) << "step " << i;
      break;
    }
  }
}

TEST(VisionRun, AProjectorBesideTheModelIsPairedAutomatically) {
  // tests/data/models holds the tiny LM and mmproj-tinygemma3.gguf (width 128) side by side.
  const std::string lm = (test::source_dir() / "tests/data/models/tiny-gemma3-vision-lm.gguf").string();
  const std::string image = vision_data("images/wide48x20.png").string();
  const std::string args = " --image " + image + " -p 'Describe this image.' -n 6 --temp 0 --json 2>/dev/null";
  const auto paired = test::run_command(test::hearth_binary().string() + " run " + lm + args);
  const auto explicit_ = test::run_command(test::hearth_binary().string() + " run " + lm + " --mmproj " + mmproj_path() + args);
  ASSERT_EQ(paired.status, 0);
  ASSERT_EQ(explicit_.status, 0);
  EXPECT_EQ(json::parse(paired.out)["tokens"], json::parse(explicit_.out)["tokens"]);
}

TEST(VisionRun, BadImagesAndMissingProjectorAreClearErrors) {
  const std::string lm = lm_path();
  ASSERT_FALSE(lm.empty());
  const fs::path bad = fs::temp_directory_path() / "hearth_vision_bad.png";
  std::ofstream(bad) << "\x89PNG\r\n\x1a\n truncated";
  auto r = test::run_command(test::hearth_binary().string() + " run " + lm + " --mmproj " + mmproj_path() +
                             " --image " + bad.string() + " -p hi -n 2 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("hearth_vision_bad.png"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corrupt or truncated"), std::string::npos) << r.out;
  r = test::run_command(test::hearth_binary().string() + " run " + lm + " --mmproj " + lm + " --image " +
                        vision_data("images/square32.png").string() + " -p hi -n 2 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not a multimodal projector"), std::string::npos) << r.out;
}

}  // namespace

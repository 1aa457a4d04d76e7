// Issue 6's acceptance: for every schema in tests/grammar/schema_cases.h,
// real generations (sampled at temperature 1, several seeds) from the bundled
// model and a random-weight fixture model are JSON that the schema accepts,
// as judged by ajv, which shares no code with hearth.
#include <memory>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "common/fixtures.h"
#include "grammar/grammar_test_util.h"
#include "grammar/schema_cases.h"
#include "model/model.h"
#include "runtime/generate.h"
#include "runtime/grammar_constraint.h"
#include "runtime/session.h"

using namespace hearth;
using nlohmann::json;

namespace {

TEST(SchemaGeneration, ModelOutputsValidateWithAjv) {
  const std::vector<test::SchemaCase> cases = test::schema_cases();
  ASSERT_GE(cases.size(), 20u);
  json batch = json::array();
  size_t generated = 0, cut_short = 0;
  for (const char* model_path : {"models/stories260K.gguf", "models/synth-qwen2-Q4_K_M.gguf"}) {
    std::filesystem::path path = test::fixture(model_path);
    if (path.empty()) path = test::source_dir() / model_path;
    auto file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
    auto model = model::Model::load(file);
    auto backend = backend::make_cpu_backend(2);
    const auto tok = tokenizer::Tokenizer::from_gguf(*file);
    const auto vocabulary = runtime::grammar_vocabulary(tok);
    runtime::SessionConfig config;
    config.n_ctx = 512;
    runtime::Session session(*model, *backend, config);
    const std::vector<int32_t> prompt = tok.encode("Here is the JSON:", true, false);
    for (const test::SchemaCase& c : cases) {
      SCOPED_TRACE(c.name);
      auto g = std::make_shared<const grammar::Grammar>(c.json_object_mode ? grammar::grammar_for_json_object()
                                                                           : grammar::grammar_from_json_schema(c.schema, c.strict));
      json instances = json::array();
      for (uint64_t seed : {1, 2, 3}) {
        runtime::GrammarConstraint constraint(g, vocabulary);
        runtime::GenerateOptions options;
        options.n_predict = 160;
        options.sampling.temperature = 1.0f;
        options.sampling.seed = seed;
        options.constraint = &constraint;
        session.reset();
        const runtime::GenerateResult r = runtime::generate(session, tok, prompt, options, nullptr);
        cut_short += r.stop == runtime::StopReason::Length;
        instances.push_back(r.text);
        ++generated;
      }
      batch.push_back({{"name", c.name + " / " + model_path}, {"schema", test::schema_for_validator(c)},
                       {"instances", instances}});
    }
  }
  std::string failure;
  const json verdicts = test::ajv_validate(batch, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(verdicts.size(), batch.size());
  size_t valid = 0;
  for (size_t i = 0; i < batch.size(); ++i)
    for (size_t k = 0; k < batch[i]["instances"].size(); ++k) {
      EXPECT_TRUE(verdicts[i][k].empty()) << batch[i]["name"] << ": " << batch[i]["instances"][k].get<std::string>()
                                          << " -> " << verdicts[i][k].dump();
      valid += verdicts[i][k].empty();
    }
  EXPECT_EQ(valid, generated);
  std::printf("[ schema generation ] %zu schemas x 2 models x 3 seeds: %zu generations, %zu valid per ajv "
              "(%zu closed by the grammar's completion at the 160-token limit)\n",
              cases.size(), generated, valid, cut_short);
}

}  // namespace

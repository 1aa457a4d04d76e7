// Acceptance: for each schema, random generations over real and synthetic
// vocabularies (several seeds) are valid JSON that the schema accepts, as
// judged by ajv (node), which shares no code with the grammar engine.
#include <gtest/gtest.h>

#include <memory>

#include "grammar/grammar.h"
#include "grammar_test_util.h"
#include "schema_cases.h"

namespace hearth::grammar {
namespace {

using nlohmann::json;

using test::SchemaCase;
using test::schema_cases;

TEST(JsonSchemaWalk, GenerationsValidateWithAjv) {
  std::vector<int32_t> stories_eog;
  const std::vector<std::string> stories = test::stories_vocabulary(stories_eog);
  ASSERT_FALSE(stories.empty()) << "fixture models/stories260K.gguf not found";
  const std::vector<std::shared_ptr<const Vocabulary>> vocabularies = {
      std::make_shared<const Vocabulary>(stories, stories_eog),
      std::make_shared<const Vocabulary>(test::synthetic_vocabulary(4000, 11), std::vector<int32_t>{256}),
  };
  const std::vector<SchemaCase> cases = schema_cases();
  ASSERT_GE(cases.size(), 20u);
  json batch = json::array();
  size_t generated = 0;
  for (const SchemaCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto grammar = std::make_shared<const Grammar>(c.json_object_mode ? grammar_for_json_object()
                                                                       : grammar_from_json_schema(c.schema, c.strict));
    json instances = json::array();
    for (size_t v = 0; v < vocabularies.size(); ++v) {
      for (uint32_t seed = 1; seed <= 6; ++seed) {
        Matcher matcher(grammar, vocabularies[v]);
        const test::WalkResult walk = test::random_walk(matcher, seed * 7919 + uint32_t(v), (seed * 13) % 70);
        ASSERT_TRUE(walk.finished) << "walk did not end after " << walk.steps << " tokens: " << walk.text;
        instances.push_back(walk.text);
        ++generated;
      }
    }
    // Validate exactly as written: in strict mode a missing
    // additionalProperties means false, so say so to the validator.
    json schema = c.schema;
    batch.push_back({{"name", c.name}, {"schema", schema}, {"instances", instances}, {"strict", c.strict}});
  }
  for (json& entry : batch)
    for (const SchemaCase& c : cases)
      if (entry["name"] == c.name) entry["schema"] = test::schema_for_validator(c);
  // A control the validator must reject, so a validator that accepts
  // everything can not pass this test.
  batch.push_back({{"name", "control"}, {"schema", json::parse(R"({"type": "object", "properties":
      {"n": {"type": "integer", "maximum": 3}}, "required": ["n"], "additionalProperties": false})")},
                   {"instances", json::array({"{\"n\": 4}", "{\"n\": 1, \"m\": 2}", "{}", "[1]", "{\"n\": 2}"})}});
  std::string failure;
  const json verdicts = test::ajv_validate(batch, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(verdicts.size(), batch.size());
  const json control = verdicts.back();
  for (size_t k = 0; k < 4; ++k) EXPECT_FALSE(control[k].empty()) << "ajv accepted invalid control instance " << k;
  EXPECT_TRUE(control[4].empty()) << "ajv rejected a valid control instance";
  batch.erase(batch.size() - 1);
  size_t valid = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    for (size_t k = 0; k < batch[i]["instances"].size(); ++k) {
      const json& errors = verdicts[i][k];
      EXPECT_TRUE(errors.empty()) << batch[i]["name"] << ": " << batch[i]["instances"][k].get<std::string>()
                                  << " -> " << errors.dump();
      valid += errors.empty();
      if (k % 6 == 0) std::printf("  %s: %s\n", batch[i]["name"].get<std::string>().c_str(),
                                  batch[i]["instances"][k].get<std::string>().substr(0, 160).c_str());
    }
  }
  EXPECT_EQ(valid, generated);
  std::printf("[ schemas ] %zu schemas, %zu generations, %zu valid per ajv\n", batch.size(), generated, valid);
}

}  // namespace
}  // namespace hearth::grammar

// `hearth tokenize --vectors` prints exactly llama.cpp's .out files, and
// tokenize/detokenize round-trip from the command line.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"

namespace fs = std::filesystem;
using namespace hearth::test;

namespace {

TEST(TokenizeCli, VectorFilesMatchLlamaCppOutput) {
  int compared = 0;
  for (const auto& inp : fixture_files("tokvec", ".inp")) {
    const fs::path out = fs::path(inp).replace_extension(".out");
    fs::path model = inp.parent_path() / (inp.stem().string() + ".gguf");
    if (!fs::exists(model)) model = inp.parent_path().parent_path() / "vocab" / ("ggml-vocab-" + inp.stem().string() + ".gguf");
    if (!fs::exists(model) || !fs::exists(out)) continue;
    SCOPED_TRACE(inp.string());
    const auto result = run_command(hearth_binary().string() + " tokenize '" + model.string() + "' --vectors '" +
                                    inp.string() + "'");
    ASSERT_EQ(result.status, 0);
    EXPECT_EQ(result.out, read_text(out));
    ++compared;
  }
  EXPECT_GE(compared, 4);  // the compact copy holds llama-spm, phi-3, gpt-2, bert-bge and two gpt2-pre files
}

TEST(TokenizeCli, JsonIdsDetokenizeBackToTheText) {
  const std::string model = (source_dir() / "models/stories260K.gguf").string();
  const auto ids = run_command(hearth_binary().string() + " tokenize '" + model + "' --text 'Once upon a time' --json");
  ASSERT_EQ(ids.status, 0);
  const auto parsed = nlohmann::json::parse(ids.out);
  ASSERT_TRUE(parsed.is_array());
  EXPECT_EQ(parsed.front(), 1);  // BOS, as stories260K's metadata asks
  std::string list;
  for (const auto& id : parsed) list += (list.empty() ? "" : ",") + std::to_string(id.get<int>());
  const auto text = run_command(hearth_binary().string() + " detokenize '" + model + "' --ids " + list + " --remove-special");
  ASSERT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("Once upon a time"), std::string::npos) << text.out;
}

}  // namespace

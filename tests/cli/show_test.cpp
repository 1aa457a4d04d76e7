// `hearth show --json` against two independent readings of every GGUF in the
// fixtures: the fixture generator's models/tensor_types.json, and
// tests/tools/gguf_dump.py, a stdlib-Python reader written from the spec.
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::test;

namespace {

std::vector<fs::path> all_fixture_ggufs() {
  std::vector<fs::path> files;
  for (const char* folder : {"models", "vocab", "tokvec", "reference"})
    for (auto& f : fixture_files(folder, ".gguf")) files.push_back(f);
  files.push_back(source_dir() / "models" / "stories260K.gguf");
  return files;
}

json hearth_show_json(const fs::path& file) {
  const auto result = run_command(hearth_binary().string() + " show --json '" + file.string() + "'");
  EXPECT_EQ(result.status, 0) << file;
  return json::parse(result.out);
}

// ggml's upper-case type names in tensor_types.json -> ggml's spelling.
std::string ggml_spelling(std::string upper) {
  std::string lower;
  for (char c : upper) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.size() == 4 && lower[0] == 'q' && lower[2] == '_' && lower[3] == 'k') lower[3] = 'K';
  return lower;
}

TEST(ShowJson, AgreesWithIndependentPythonReaderOnEveryFixture) {
  const auto files = all_fixture_ggufs();
  ASSERT_GE(files.size(), 5u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const json ours = hearth_show_json(file);
    const auto py = run_command("python3 '" + (source_dir() / "tests/tools/gguf_dump.py").string() + "' '" +
                                file.string() + "'");
    ASSERT_EQ(py.status, 0);
    const json theirs = json::parse(py.out);
    EXPECT_EQ(ours["architecture"], theirs["architecture"]);
    EXPECT_EQ(ours["n_tensors"], theirs["n_tensors"]);
    EXPECT_EQ(ours["n_params"], theirs["n_params"]);
    EXPECT_EQ(ours["gguf_version"], theirs["version"]);
    ASSERT_EQ(ours["tensors"].size(), theirs["tensors"].size());
    for (size_t i = 0; i < ours["tensors"].size(); ++i) {
      EXPECT_EQ(ours["tensors"][i]["name"], theirs["tensors"][i]["name"]);
      EXPECT_EQ(ours["tensors"][i]["type"], theirs["tensors"][i]["type"]);
      EXPECT_EQ(ours["tensors"][i]["shape"], theirs["tensors"][i]["shape"]);
    }
  }
}

TEST(ShowJson, AgreesWithFixtureTensorTypes) {
  const fs::path index = fixture("models/tensor_types.json");
  ASSERT_FALSE(index.empty()) << "models/tensor_types.json missing from fixtures";
  const json expected = json::parse(read_text(index));
  int compared = 0;
  for (const auto& [name, entry] : expected.items()) {
    const fs::path file = index.parent_path() / name;
    if (!fs::exists(file)) continue;  // the compact copy holds a subset of the models
    SCOPED_TRACE(name);
    const json ours = hearth_show_json(file);
    EXPECT_EQ(ours["n_tensors"], entry["n_tensors"]);
    if (entry.contains("file_type") && !entry["file_type"].is_null()) {
      EXPECT_EQ(ours["metadata"]["general.file_type"], entry["file_type"]);
    }
    std::map<std::string, json> by_name;
    for (const auto& t : ours["tensors"]) by_name[t["name"]] = t;
    uint64_t n_params = 0;
    for (const auto& [tensor, info] : entry["tensors"].items()) {
      ASSERT_TRUE(by_name.count(tensor)) << tensor;
      EXPECT_EQ(by_name[tensor]["type"], ggml_spelling(info["type"])) << tensor;
      EXPECT_EQ(by_name[tensor]["shape"], info["dims"]) << tensor;
      uint64_t n = 1;
      for (const auto& d : info["dims"]) n *= d.get<uint64_t>();
      n_params += n;
    }
    EXPECT_EQ(ours["n_params"], n_params);
    ++compared;
  }
  EXPECT_GE(compared, 2);
}

TEST(ShowJson, SummarisesLongArraysAndKeepsShortOnes) {
  const json ours = hearth_show_json(source_dir() / "models" / "stories260K.gguf");
  EXPECT_EQ(ours["architecture"], "llama");
  EXPECT_EQ(ours["n_params"], 292800);  // models/README.md: sum of tensor elements
  EXPECT_EQ(ours["metadata"]["tokenizer.ggml.tokens"], (json{{"type", "string"}, {"length", 512}}));
  EXPECT_EQ(ours["metadata"]["llama.block_count"], 5);
  EXPECT_EQ(ours["metadata"]["llama.context_length"], 2048);
  for (const auto& t : ours["tensors"]) {
    EXPECT_TRUE(t.contains("offset"));
    EXPECT_TRUE(t.contains("bytes"));
  }
}

TEST(ShowPlain, NamesTheModelFacts) {
  const auto result = run_command(hearth_binary().string() + " show '" +
                                  (source_dir() / "models" / "stories260K.gguf").string() + "'");
  ASSERT_EQ(result.status, 0);
  // Values from models/README.md (stories260K: ctx 2048, 5 layers, n_embd 64, heads 8/4, SPM, no template).
  for (const char* expected : {"architecture   llama", "context length 2048", "layers         5", "embedding      64",
                               "heads          8", "kv heads       4", "tokenizer      llama", "chat template  no",
                               "f32         48 tensors"})
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << result.out;
}

TEST(ShowErrors, MissingAndMalformedFilesExitNonZeroWithAMessage) {
  const auto missing = run_command(hearth_binary().string() + " show /nonexistent/model.gguf 2>&1");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("cannot open '/nonexistent/model.gguf'"), std::string::npos) << missing.out;
  const auto not_gguf = run_command(hearth_binary().string() + " show '" +
                                    (source_dir() / "CMakeLists.txt").string() + "' 2>&1");
  EXPECT_EQ(not_gguf.status, 1);
  EXPECT_NE(not_gguf.out.find("not a GGUF file"), std::string::npos) << not_gguf.out;
}

}  // namespace

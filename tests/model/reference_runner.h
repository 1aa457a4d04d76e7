// The reference-case runner (tests/model/reference_test.cpp runs it on the
// CPU, tests/model_vulkan on lavapipe): every reference case in reference/
// (llama.cpp's logits and greedy tokens) against hearth, under the tolerance
// rule of fixtures/README.md, read from reference/stats.json:
//  1. max |delta| <= C.max; 2. mean |delta| <= C.mean;
//  3. argmax equal on every row whose reference top2_margin > C.margin;
//  4. greedy: generated tokens equal step by step; a first difference is
//     accepted only at a step whose reference margin <= C.margin, and it ends
//     the comparison (1-3 apply to the rows up to and including it).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

namespace hearth::reference_test {

namespace fs = std::filesystem;
using nlohmann::json;

// Makes the session a case runs on, with the case's options.
using SessionFactory = std::function<std::unique_ptr<runtime::Session>(const model::Model&, const runtime::SessionConfig&)>;


struct Tolerance {
  std::string name;
  double max_abs, mean_abs, margin;
};

// The fixtures' classes (stats.json), then the classes derived here for the
// models the fixtures lack (tests/data/reference/added-classes.json, the
// same layout, bounds derived the fixtures' way).
inline Tolerance tolerance_for(const std::string& model_stem) {
  const json stats = json::parse(hearth::test::read_text(hearth::test::fixture("reference/stats.json")));
  const fs::path added_file = hearth::test::source_dir() / "tests/data/reference/added-classes.json";
  const json added = json::parse(hearth::test::read_text(added_file));
  for (const json* classes : {&stats["tolerances"]["classes"], &added["classes"]})
    for (const auto& c : *classes)
      for (const auto& m : c["models"])
        if (m == model_stem) return {c["class"], c["max_abs"], c["mean_abs"], c["top1_margin"]};
  throw std::runtime_error("no tolerance class lists " + model_stem);
}

// reference/<model-stem>/<case>.json: folders named after a model file, from
// the full fixtures when present, and from the compact copy in tests/data
// for the models only it has (references made after the fixtures). Other
// folders (embeddings/, perplexity/) hold other tests' references.
inline std::vector<fs::path> reference_cases() {
  std::vector<fs::path> cases;
  const fs::path stats = hearth::test::fixture("reference/stats.json");
  if (stats.empty()) return cases;
  std::vector<std::string> seen;
  for (const fs::path& root : {stats.parent_path(), hearth::test::source_dir() / "tests/data/reference"}) {
    if (!fs::is_directory(root)) continue;
    for (const auto& dir : fs::directory_iterator(root)) {
      const std::string stem = dir.path().filename().string();
      if (!dir.is_directory() || hearth::test::fixture("models/" + stem + ".gguf").empty() ||
          std::find(seen.begin(), seen.end(), stem) != seen.end())
        continue;
      seen.push_back(stem);
      for (const auto& f : fs::directory_iterator(dir.path()))
        if (f.path().extension() == ".json") cases.push_back(f.path());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

inline std::string case_name(const fs::path& sidecar) {
  std::string name = sidecar.parent_path().filename().string() + "_" + sidecar.stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

inline fs::path model_path(const std::string& file) {
  fs::path p = hearth::test::fixture("models/" + file);
  if (p.empty() && file == "stories260K.gguf") p = hearth::test::source_dir() / "models" / file;
  return p;
}

inline std::vector<float> read_floats(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  std::vector<float> v(size_t(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return v;
}

inline void check_reference_case(const fs::path& sidecar, const SessionFactory& make_session) {
  const json ref = json::parse(hearth::test::read_text(sidecar));
  const fs::path model_file = model_path(ref["model_file"]);
  ASSERT_FALSE(model_file.empty()) << "model " << ref["model_file"] << " missing";
  const Tolerance tol = tolerance_for(fs::path(std::string(ref["model_file"])).stem().string());
  const std::vector<float> expected = read_floats(sidecar.parent_path() / std::string(ref["logits_file"]));
  const int64_t n_vocab = ref["n_vocab"];
  const int64_t rows = ref["shape"][0];
  ASSERT_EQ(int64_t(expected.size()), rows * n_vocab);

  auto file = std::make_shared<const hearth::gguf::File>(hearth::gguf::File::open(model_file.string()));
  auto model = hearth::model::Model::load(file);
  hearth::runtime::SessionConfig config;
  config.n_ctx = ref["options"]["n_ctx"];
  config.n_ubatch = ref["options"]["n_ubatch"];
  config.type_k = *hearth::dtype_from_name(std::string(ref["options"]["type_k"]));
  config.type_v = *hearth::dtype_from_name(std::string(ref["options"]["type_v"]));
  config.flash_attn = ref["options"]["flash_attn"];
  const std::unique_ptr<hearth::runtime::Session> session_owner = make_session(*model, config);
  hearth::runtime::Session& session = *session_owner;

  // Our logits, row by row as the reference made them.
  std::vector<float> ours;
  int64_t compared_rows = rows;
  std::string greedy_note;
  if (ref["mode"] == "logits") {
    std::vector<int32_t> tokens = ref["tokens"];
    session.eval(tokens, /*all_logits=*/true, ours);
  } else {
    std::vector<int32_t> prompt = ref["prompt"];
    std::vector<int32_t> generated = ref["generated"];
    std::vector<float> last;
    session.eval(prompt, false, last);
    ours = last;
    for (int64_t i = 1; i < rows; ++i) {
      const float* step = session.decode(generated[i - 1]);
      ours.insert(ours.end(), step, step + n_vocab);
    }
    // Rule 4: the first token that differs ends the comparison, and must be at a near-tie.
    for (int64_t i = 0; i < rows; ++i) {
      const int32_t mine = hearth::sampling::argmax(ours.data() + i * n_vocab, n_vocab);
      if (mine != generated[i]) {
        const double margin = ref["top2_margin"][i];
        EXPECT_LE(margin, tol.margin) << "greedy token " << i << ": ours " << mine << ", llama.cpp " << generated[i]
                                      << " with margin " << margin;
        compared_rows = i + 1;
        greedy_note = fmt::format(" (greedy parts at step {}, margin {:.3f})", i, margin);
        break;
      }
    }
  }
  ASSERT_EQ(int64_t(ours.size()), rows * n_vocab);

  double max_abs = 0, sum_abs = 0;
  int argmax_checked = 0;
  for (int64_t r = 0; r < compared_rows; ++r) {
    const float* a = ours.data() + r * n_vocab;
    const float* b = expected.data() + r * n_vocab;
    for (int64_t i = 0; i < n_vocab; ++i) {
      const double d = std::fabs(double(a[i]) - double(b[i]));
      max_abs = std::max(max_abs, d);
      sum_abs += d;
    }
    if (double(ref["top2_margin"][r]) > tol.margin) {
      EXPECT_EQ(hearth::sampling::argmax(a, n_vocab), int32_t(ref["argmax"][r])) << "row " << r;
      ++argmax_checked;
    }
  }
  const double mean_abs = sum_abs / double(compared_rows * n_vocab);
  EXPECT_LE(max_abs, tol.max_abs) << "class " << tol.name;
  EXPECT_LE(mean_abs, tol.mean_abs) << "class " << tol.name;
  std::printf("[reference] %-28s %-18s class %-7s max %.5f (<= %.3g) mean %.6f (<= %.3g) argmax rows %d/%lld%s\n",
              sidecar.parent_path().filename().c_str(), sidecar.stem().c_str(), tol.name.c_str(), max_abs,
              tol.max_abs, mean_abs, tol.mean_abs, argmax_checked, (long long)compared_rows, greedy_note.c_str());
}


}  // namespace hearth::reference_test

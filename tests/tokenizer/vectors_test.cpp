// llama.cpp's tokenizer vectors: for every .inp/.out pair in vocab/ and
// tokvec/ (the full set in /work/shared/fixtures when present, else the
// compact copy in tests/data), our ids must equal llama.cpp's exactly.
// Decoding must give the text back where llama.cpp's would, and the
// streaming decoder must agree with one-shot decoding.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace fs = std::filesystem;
using hearth::tokenizer::StreamDecoder;
using hearth::tokenizer::Tokenizer;

namespace {

struct VectorSet {
  std::string name;  // "tokvec/gpt-2", "vocab/llama-spm"
  fs::path vocab;
  fs::path inputs;
  fs::path expected;
};

// gtest prints parameters on failure; the name says which files.
void PrintTo(const VectorSet& set, std::ostream* os) { *os << set.name; }

std::string param_name(const testing::TestParamInfo<VectorSet>& info) {
  std::string name = info.param.name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every vector file whose vocabulary is at hand. The vocab/ folder also holds
// vectors for vocabularies too large to ship (llama-bpe, qwen2, ...): those
// have no GGUF here and cannot be run.
std::vector<VectorSet> vector_sets() {
  std::vector<VectorSet> sets;
  for (const fs::path& inp : hearth::test::fixture_files("vocab", ".gguf.inp")) {
    const std::string file = inp.filename().string();          // ggml-vocab-X.gguf.inp
    const std::string gguf_name = file.substr(0, file.size() - 4);  // ggml-vocab-X.gguf
    const fs::path gguf = inp.parent_path() / gguf_name;
    if (!fs::exists(gguf)) continue;
    const std::string family = gguf_name.substr(std::string("ggml-vocab-").size(), gguf_name.size() - 16);
    sets.push_back({"vocab/" + family, gguf, inp, inp.parent_path() / (gguf_name + ".out")});
  }
  for (const fs::path& inp : hearth::test::fixture_files("tokvec", ".inp")) {
    const std::string family = inp.stem().string();
    fs::path gguf = inp.parent_path() / (family + ".gguf");
    if (!fs::exists(gguf)) gguf = hearth::test::fixture("vocab/ggml-vocab-" + family + ".gguf");
    if (gguf.empty() || !fs::exists(gguf)) continue;
    sets.push_back({"tokvec/" + family, gguf, inp, inp.parent_path() / (family + ".out")});
  }
  return sets;
}

std::vector<std::string> read_inputs(const fs::path& path) {
  const std::string data = hearth::test::read_text(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> strings;
  size_t start = 0;
  while (true) {
    const size_t hit = data.find(separator, start);
    if (hit == std::string::npos) {
      // test-tokenizer-0 files end with a separator; llama-tokenize ones do not.
      if (start < data.size() || !ends_with(data, separator)) strings.push_back(data.substr(start));
      break;
    }
    strings.push_back(data.substr(start, hit - start));
    start = hit + separator.size();
  }
  return strings;
}

std::vector<std::vector<int32_t>> read_expected(const fs::path& path) {
  const std::string data = hearth::test::read_text(path);
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<int32_t> ids;
    for (int32_t id; fields >> id;) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string out;
  for (const int32_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

// Where llama.cpp's own decoding gives the input back: not for BERT (it
// lowercases and drops accents) and not where its space clean-up applies.
bool reference_round_trips(const Tokenizer& tok, const std::string& text) {
  if (tok.model_name() == "bert") return false;
  if (!tok.cleans_spaces()) return true;
  for (const char* pattern : {" ?", " !", " .", " ,", " '"})
    if (text.find(pattern) != std::string::npos) return false;
  return true;
}

class TokenizerVectors : public testing::TestWithParam<VectorSet> {
 protected:
  void SetUp() override {
    file_ = std::make_unique<hearth::gguf::File>(hearth::gguf::File::open(GetParam().vocab.string()));
    tok_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(*file_));
    inputs_ = read_inputs(GetParam().inputs);
    expected_ = read_expected(GetParam().expected);
    ASSERT_EQ(inputs_.size(), expected_.size()) << "strings in " << GetParam().inputs << " vs lines in "
                                                << GetParam().expected;
  }

  std::unique_ptr<hearth::gguf::File> file_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<std::string> inputs_;
  std::vector<std::vector<int32_t>> expected_;
};

TEST_P(TokenizerVectors, IdsMatchLlamaCpp) {
  size_t matching = 0;
  size_t expected_ids = 0;
  for (const auto& ids : expected_) expected_ids += ids.size();
  EXPECT_GT(expected_ids, inputs_.size()) << "the .out file holds almost no ids";
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const std::vector<int32_t> ids = tok_->encode(inputs_[i], /*add_special=*/false, /*parse_special=*/false);
    if (ids == expected_[i]) {
      ++matching;
      continue;
    }
    ADD_FAILURE() << GetParam().name << " string " << i << " '" << inputs_[i] << "'\n  expected: "
                  << show(expected_[i]) << "\n  got:      " << show(ids);
  }
  EXPECT_EQ(matching, inputs_.size()) << GetParam().name << ": " << matching << "/" << inputs_.size()
                                      << " strings exact";
}

TEST_P(TokenizerVectors, DecodeGivesTextBack) {
  size_t checked = 0;
  if (tok_->model_name() == "bert") {
    // BERT normalizes (lowercase, no accents), so the text does not come
    // back; what does hold is that the decoded text encodes to the same ids.
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const auto& ids = expected_[i];
      if (std::find(ids.begin(), ids.end(), 100) != ids.end()) continue;  // [UNK] loses the text
      ++checked;
      EXPECT_EQ(show(tok_->encode(tok_->decode(ids), false, false)), show(ids)) << GetParam().name << " string " << i;
    }
    EXPECT_GT(checked, inputs_.size() / 2);
    return;
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!reference_round_trips(*tok_, inputs_[i])) continue;
    ++checked;
    EXPECT_EQ(tok_->decode(expected_[i]), inputs_[i]) << GetParam().name << " string " << i;
  }
  EXPECT_GT(checked, inputs_.size() / 2);
}

TEST_P(TokenizerVectors, StreamingMatchesOneShot) {
  for (const bool remove_special : {false, true}) {
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const std::string one_shot = tok_->decode(expected_[i], remove_special);
      StreamDecoder stream(*tok_, remove_special);
      std::string joined;
      for (const int32_t id : expected_[i]) {
        const std::string piece = stream.push(id);
        bool incomplete = false;
        ASSERT_EQ(hearth::tokenizer::unicode::valid_utf8_prefix(piece, &incomplete), piece.size())
            << GetParam().name << " string " << i << ": push() returned broken UTF-8";
        joined += piece;
      }
      joined += stream.flush();
      EXPECT_EQ(joined, one_shot) << GetParam().name << " string " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerVectors, testing::ValuesIn(vector_sets()), param_name);

TEST(TokenizerVectorSets, CoverEveryFamilyPresent) {
  const std::vector<VectorSet> sets = vector_sets();
  // The compact copy holds at least SPM, GPT-2 BPE, the Llama-3 and Qwen2
  // pre-tokenizers and WPM; the full set all 22 tokvec families.
  std::vector<std::string> names;
  for (const auto& s : sets) names.push_back(s.name);
  for (const char* required : {"tokvec/llama-spm", "tokvec/gpt-2", "tokvec/gpt2-pre-llama-bpe", "tokvec/gpt2-pre-qwen2",
                               "tokvec/bert-bge"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  if (hearth::test::have_full_fixtures()) {
    size_t tokvec = 0, vocab = 0;
    for (const auto& name : names) {
      tokvec += name.rfind("tokvec/", 0) == 0;
      vocab += name.rfind("vocab/", 0) == 0;
    }
    EXPECT_EQ(tokvec, 22u);
    EXPECT_EQ(vocab, 10u);  // the vocab/ pairs whose GGUF is present
  }
}

}  // namespace

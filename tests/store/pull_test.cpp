// Pulling from a local stand-in for the hubs (tests/store/test_hub.h):
// listing, tag choice, resume after a cut, sha256 refusal, split files,
// missing repositories, ModelScope.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "store/hub.h"
#include "store/test_hub.h"

namespace hearth::store {
namespace {
namespace fs = std::filesystem;
using test::TestHub;

std::string fixture_bytes(const std::string& relative) {
  const fs::path p = test::fixture(relative);
  EXPECT_FALSE(p.empty()) << relative;
  return test::read_text(p);
}

struct PullTest : ::testing::Test {
  fs::path home;
  TestHub hub;
  HubConfig config;
  void SetUp() override {
    home = fs::temp_directory_path() / ("hearth-pull-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home);
    config.hf_endpoint = hub.endpoint();
    config.ms_endpoint = hub.endpoint();
  }
  void TearDown() override { fs::remove_all(home); }
  std::string error_of(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST(PullRefs, ParsesTheHubSyntaxes) {
  auto r = parse_ref("hf.co/bartowski/Qwen3-0.6B-GGUF:q4_k_m");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->hub, "hf");
  EXPECT_EQ(r->owner, "bartowski");
  EXPECT_EQ(r->repo, "Qwen3-0.6B-GGUF");
  EXPECT_EQ(r->tag, "q4_k_m");
  EXPECT_EQ(r->name(), "hf.co/bartowski/Qwen3-0.6B-GGUF:q4_k_m");
  r = parse_ref("huggingface.co/o/r/sub/model-Q8_0.gguf");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->file, "sub/model-Q8_0.gguf");
  EXPECT_EQ(r->name(), "hf.co/o/r/sub/model-Q8_0.gguf");
  r = parse_ref("ms:Qwen/Qwen3-8B-GGUF:Q4_K_M");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->hub, "ms");
  EXPECT_EQ(r->display(), "ms:Qwen/Qwen3-8B-GGUF");
  EXPECT_FALSE(parse_ref("models/stories260K.gguf"));
  EXPECT_FALSE(parse_ref("my-preset"));
  EXPECT_THROW(parse_ref("hf.co/just-owner"), Error);
  EXPECT_THROW(parse_ref("hf.co/o/r:"), Error);
}

TEST(PullRefs, QuantTagsAndSplitGroups) {
  const std::vector<RepoFile> files = {
      {"Qwen3-0.6B-Q4_K_M.gguf", 10, ""},   {"Qwen3-0.6B-Q4_K_S.gguf", 9, ""}, {"Qwen3-0.6B-Q8_0.gguf", 20, ""},
      {"Qwen3-0.6B-UD-Q4_K_XL.gguf", 11, ""}, {"mmproj-F16.gguf", 5, ""},    {"README.md", 1, ""},
      {"BF16/Qwen3-0.6B-BF16-00002-of-00002.gguf", 30, ""}, {"BF16/Qwen3-0.6B-BF16-00001-of-00002.gguf", 30, ""}};
  const auto models = gguf_models(files);
  ASSERT_EQ(models.size(), 5u);  // no mmproj, no README; the split pair is one model
  EXPECT_EQ(quant_tag_of("Qwen3-0.6B-UD-Q4_K_XL.gguf"), "UD-Q4_K_XL");
  EXPECT_EQ(quant_tag_of("BF16/Qwen3-0.6B-BF16-00001-of-00002.gguf"), "BF16");
  HubRef ref = *parse_ref("hf.co/o/r:q8_0");  // case-insensitive
  EXPECT_EQ(choose_model(ref, files).front().path, "Qwen3-0.6B-Q8_0.gguf");
  ref.tag = "bf16";
  const auto split = choose_model(ref, files);
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].path, "BF16/Qwen3-0.6B-BF16-00001-of-00002.gguf");  // parts in order
  ref.tag = "";
  EXPECT_EQ(choose_model(ref, files).front().path, "Qwen3-0.6B-Q4_K_M.gguf");  // Ollama's default
  ref.tag = "Q4_K";  // a prefix of two tags matches neither
  try {
    choose_model(ref, files);
    FAIL() << "no error for a missing tag";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no model with the quant tag 'Q4_K'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Qwen3-0.6B-Q4_K_S.gguf"), std::string::npos) << msg;  // lists what there is
    EXPECT_NE(msg.find("Q8_0"), std::string::npos) << msg;
  }
}

// The projector llama.cpp's -hf pairs with a model (common/download.cpp,
// find_best_sibling): a .gguf with "mmproj" in its path, in the model's
// folder or above, deepest first, then the quant bits nearest the model's.
TEST(PullRefs, ChoosesTheProjectorAsLlamaCppDoes) {
  EXPECT_EQ(quant_bits_of("gemma-3-4b-it-Q4_K_M.gguf"), 4);
  EXPECT_EQ(quant_bits_of("mmproj-model-f16.gguf"), 16);
  EXPECT_EQ(quant_bits_of("BF16/m-BF16-00001-of-00002.gguf"), 16);
  EXPECT_EQ(quant_bits_of("mmproj-F32.gguf"), 32);
  EXPECT_EQ(quant_bits_of("mmproj.gguf"), 0);
  const std::vector<RepoFile> files = {{"mmproj-F16.gguf", 5, ""},       {"mmproj-Q8_0.gguf", 3, ""},
                                       {"mmproj-F32.gguf", 9, ""},       {"m-Q4_K_M.gguf", 10, ""},
                                       {"m-Q8_0.gguf", 20, ""},          {"m-F16.gguf", 40, ""},
                                       {"m-BF16.gguf", 40, ""},          {"sub/m-Q2_K.gguf", 8, ""},
                                       {"other/mmproj-Q4_0.gguf", 2, ""}, {"MMPROJ-Q4_0.gguf", 2, ""},
                                       {"mmproj-Q4_0.bin", 2, ""}};
  const auto pick = [&](const std::string& model) {
    const auto f = choose_mmproj(model, files);
    return f ? f->path : std::string("none");
  };
  EXPECT_EQ(pick("m-Q4_K_M.gguf"), "mmproj-Q8_0.gguf");  // 4 bits: Q8_0 (4 away) over F16 (12 away)
  EXPECT_EQ(pick("m-Q8_0.gguf"), "mmproj-Q8_0.gguf");
  EXPECT_EQ(pick("m-F16.gguf"), "mmproj-F16.gguf");
  EXPECT_EQ(pick("m-BF16.gguf"), "mmproj-F16.gguf");
  // From a subfolder, the root's projectors still count (another folder's do not).
  EXPECT_EQ(pick("sub/m-Q2_K.gguf"), "mmproj-Q8_0.gguf");
  EXPECT_EQ(pick("other/m-Q4_0.gguf"), "other/mmproj-Q4_0.gguf");  // its own folder wins
  EXPECT_EQ(choose_mmproj("m-Q4_K_M.gguf", {{"m-Q4_K_M.gguf", 10, ""}, {"README.md", 1, ""}}), std::nullopt);
  // Equal distance: the first listed.
  EXPECT_EQ(choose_mmproj("m-Q8_0.gguf", {{"mmproj-a-F16.gguf", 1, ""}, {"mmproj-b-F16.gguf", 1, ""}})->path,
            "mmproj-a-F16.gguf");
}

TEST_F(PullTest, PullsTheRepositorysProjectorWithTheModel) {
  const std::string lm = fixture_bytes("models/tiny-gemma3-vision-lm.gguf");
  const std::string projector = fixture_bytes("models/mmproj-tinygemma3.gguf");
  hub.add("ggml-org/tiny-gemma3-GGUF", "tiny-gemma3-F16.gguf", lm);
  hub.add("ggml-org/tiny-gemma3-GGUF", "mmproj-tiny-gemma3-F16.gguf", projector);
  hub.add("ggml-org/tiny-gemma3-GGUF", "mmproj-tiny-gemma3-Q8_0.gguf", "not the F16 model's projector");
  const Store st(home);
  std::vector<std::string> announced;
  PullEvents events;
  events.on_file = [&](const RepoFile& f, int, int count) { announced.push_back(f.path + "/" + std::to_string(count)); };
  const Manifest m = pull(*parse_ref("hf.co/ggml-org/tiny-gemma3-GGUF:F16"), config, st, events);
  EXPECT_EQ(announced, (std::vector<std::string>{"tiny-gemma3-F16.gguf/2", "mmproj-tiny-gemma3-F16.gguf/2"}));
  ASSERT_EQ(m.files.size(), 1u);
  ASSERT_TRUE(m.mmproj);
  EXPECT_EQ(fs::path(m.mmproj->path).filename(), "mmproj-tiny-gemma3-F16.gguf");
  EXPECT_EQ(m.mmproj->sha256, test::sha256_hex(projector));
  EXPECT_EQ(m.mmproj->size, projector.size());
  EXPECT_EQ(test::read_text(m.mmproj->path), projector);
  EXPECT_EQ(m.total_size(), lm.size() + projector.size());
  // The manifest keeps it; the Q8_0 projector was never fetched.
  const auto found = st.find("hf.co/ggml-org/tiny-gemma3-GGUF:F16");
  ASSERT_TRUE(found && found->mmproj);
  EXPECT_EQ(found->mmproj->path, m.mmproj->path);
  EXPECT_FALSE(fs::exists(fs::path(m.mmproj->path).parent_path() / "mmproj-tiny-gemma3-Q8_0.gguf"));
  // A second name for the same files keeps the projector while it lists it.
  Manifest copy = *found;
  copy.name = "my-vision";
  st.save(copy);
  st.remove("hf.co/ggml-org/tiny-gemma3-GGUF:F16");
  EXPECT_TRUE(fs::exists(m.mmproj->path));
  st.remove("my-vision");
  EXPECT_FALSE(fs::exists(m.mmproj->path));
  EXPECT_FALSE(fs::exists(m.files[0].path));
}

TEST_F(PullTest, AProjectorWithTheWrongSha256FailsThePull) {
  hub.add("o/v", "v-F16.gguf", fixture_bytes("models/tiny-gemma3-vision-lm.gguf"));
  hub.add("o/v", "mmproj-F16.gguf", fixture_bytes("models/mmproj-tinygemma3.gguf"));
  hub.set_published_sha256("o/v", "mmproj-F16.gguf", std::string(64, 'b'));
  const Store st(home);
  const std::string err = error_of([&] { pull(*parse_ref("hf.co/o/v:F16"), config, st, {}); });
  EXPECT_NE(err.find("sha256 mismatch for mmproj-F16.gguf"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(home / "models/hf.co/o/v/mmproj-F16.gguf"));
  EXPECT_FALSE(st.find("hf.co/o/v:F16"));
}

TEST_F(PullTest, PullsAModelAndRecordsItsManifest) {
  const std::string bytes = fixture_bytes("models/stories260K.gguf");
  hub.add("ggml-org/stories", "stories260K-Q8_0.gguf", bytes);
  hub.add("ggml-org/stories", "README.md", "hello");
  const Store st(home);
  const Manifest m = pull(*parse_ref("hf.co/ggml-org/stories:Q8_0"), config, st, {});
  ASSERT_EQ(m.files.size(), 1u);
  EXPECT_EQ(m.files[0].sha256, test::sha256_hex(bytes));
  EXPECT_EQ(test::read_text(m.files[0].path), bytes);
  const auto found = st.find("HF.CO/ggml-org/stories:q8_0");  // names match case-insensitively
  ASSERT_TRUE(found);
  EXPECT_EQ(found->source, "hf.co/ggml-org/stories:Q8_0");
  EXPECT_FALSE(found->created.empty());
  EXPECT_EQ(st.list().size(), 1u);
  EXPECT_FALSE(found->mmproj);  // the repo has no projector
  st.remove("hf.co/ggml-org/stories:Q8_0");
  EXPECT_FALSE(fs::exists(m.files[0].path));
  EXPECT_TRUE(st.list().empty());
}

TEST_F(PullTest, ResumesAfterTheConnectionIsCut) {
  const std::string bytes = fixture_bytes("models/stories260K.gguf");
  hub.add("o/r", "m-Q8_0.gguf", bytes);
  const int64_t cut = int64_t(bytes.size() / 2) + 12345;
  hub.cut_next_download("o/r", "m-Q8_0.gguf", cut);
  const Store st(home);
  const std::string err = error_of([&] { pull(*parse_ref("hf.co/o/r:Q8_0"), config, st, {}); });
  EXPECT_NE(err.find("run the same pull again to resume"), std::string::npos) << err;
  const fs::path partial = home / "models/hf.co/o/r/m-Q8_0.gguf.partial";
  ASSERT_TRUE(fs::exists(partial));
  EXPECT_EQ(int64_t(fs::file_size(partial)), cut);
  EXPECT_FALSE(st.find("hf.co/o/r:Q8_0"));

  const Manifest m = pull(*parse_ref("hf.co/o/r:Q8_0"), config, st, {});
  const auto ranges = hub.download_ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(cut) + "-");  // only the rest was asked for
  EXPECT_EQ(test::read_text(m.files[0].path), bytes);
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(PullTest, RefusesASha256MismatchAndKeepsNothing) {
  const std::string bytes = fixture_bytes("models/stories260K.gguf");
  hub.add("o/r", "m-Q8_0.gguf", bytes);
  hub.set_published_sha256("o/r", "m-Q8_0.gguf", std::string(64, 'a'));
  const Store st(home);
  const std::string err = error_of([&] { pull(*parse_ref("hf.co/o/r:Q8_0"), config, st, {}); });
  EXPECT_NE(err.find("sha256 mismatch"), std::string::npos) << err;
  EXPECT_NE(err.find(test::sha256_hex(bytes)), std::string::npos) << err;
  EXPECT_NE(err.find("not kept"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(home / "models/hf.co/o/r/m-Q8_0.gguf"));
  EXPECT_FALSE(fs::exists(home / "models/hf.co/o/r/m-Q8_0.gguf.partial"));
  EXPECT_FALSE(st.find("hf.co/o/r:Q8_0"));
}

// Two GGUF parts with the split keys, as gguf-split writes them.
std::pair<std::string, std::string> split_model() {
  const gguf::File whole = gguf::File::open(test::fixture("models/stories260K.gguf").string());
  std::string parts[2];
  const size_t half = whole.tensors().size() / 2;
  for (int part = 0; part < 2; ++part) {
    gguf::Writer w;
    if (part == 0)
      for (const auto& [key, value] : whole.metadata().entries()) w.set(key, value);
    w.set("split.no", gguf::Value::u16(uint16_t(part)));
    w.set("split.count", gguf::Value::u16(2));
    w.set("split.tensors.count", gguf::Value::i32(int32_t(whole.tensors().size())));
    for (size_t i = part == 0 ? 0 : half; i < (part == 0 ? half : whole.tensors().size()); ++i) {
      const auto& t = whole.tensors()[i];
      w.add_tensor(t.name, t.type, t.shape(), t.bytes());
    }
    const auto bytes = w.to_bytes();
    parts[part] = std::string(bytes.begin(), bytes.end());
  }
  return {parts[0], parts[1]};
}

TEST_F(PullTest, PullsSplitModelsWhole) {
  const auto [first, second] = split_model();
  hub.add("o/split", "Q8_0/m-Q8_0-00001-of-00002.gguf", first);
  hub.add("o/split", "Q8_0/m-Q8_0-00002-of-00002.gguf", second);
  hub.add("o/split", "m-Q4_0.gguf", "not this one");
  const Store st(home);
  const Manifest m = pull(*parse_ref("hf.co/o/split:q8_0"), config, st, {});
  ASSERT_EQ(m.files.size(), 2u);
  EXPECT_EQ(test::read_text(m.files[1].path), second);
  const gguf::File opened = gguf::File::open(m.files[0].path);  // the parts open as one model
  EXPECT_EQ(opened.n_files(), 2u);
  EXPECT_EQ(opened.tensors().size(), gguf::File::open(test::fixture("models/stories260K.gguf").string()).tensors().size());
}

TEST_F(PullTest, AmbiguousTagListsTheCandidates) {
  hub.add("o/r", "a-Q4_0.gguf", "x");
  hub.add("o/r", "b-Q4_0.gguf", "y");
  const std::string err = error_of([&] { pull(*parse_ref("hf.co/o/r:Q4_0"), config, Store(home), {}); });
  EXPECT_NE(err.find("ambiguous"), std::string::npos) << err;
  EXPECT_NE(err.find("a-Q4_0.gguf"), std::string::npos) << err;
  EXPECT_NE(err.find("b-Q4_0.gguf"), std::string::npos) << err;
  EXPECT_EQ(hub.download_ranges().size(), 0u);  // nothing downloaded
}

TEST_F(PullTest, MissingRepositoryIsAClearError) {
  const std::string err = error_of([&] { pull(*parse_ref("hf.co/nobody/nothing:Q4_0"), config, Store(home), {}); });
  EXPECT_NE(err.find("hf.co/nobody/nothing: repository not found"), std::string::npos) << err;
  EXPECT_NE(err.find("HF_TOKEN"), std::string::npos) << err;
  const std::string ms = error_of([&] { pull(*parse_ref("ms:nobody/nothing:Q4_0"), config, Store(home), {}); });
  EXPECT_NE(ms.find("ms:nobody/nothing: repository not found"), std::string::npos) << ms;
}

TEST_F(PullTest, PullsFromModelScope) {
  const std::string bytes = fixture_bytes("models/stories260K.gguf");
  hub.add("Qwen/tiny", "tiny-Q8_0.gguf", bytes);
  const Manifest m = pull(*parse_ref("ms:Qwen/tiny:Q8_0"), config, Store(home), {});
  EXPECT_EQ(m.name, "ms:Qwen/tiny:Q8_0");
  EXPECT_EQ(m.files[0].sha256, test::sha256_hex(bytes));
  EXPECT_EQ(test::read_text(m.files[0].path), bytes);
}

}  // namespace
}  // namespace hearth::store

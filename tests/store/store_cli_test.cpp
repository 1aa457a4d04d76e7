// The store through the hearth program: the newcomer path (pull from the test
// hub -> list -> run NAME -> rm NAME), import, presets, show NAME, plan of a
// remote repository from its headers alone, and no network in any command
// but pull (and a run or plan that names a remote model).
#include <filesystem>
#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "store/test_hub.h"

namespace hearth::store {
namespace {
namespace fs = std::filesystem;
using test::TestHub;

struct StoreCli : ::testing::Test {
  fs::path home;
  void SetUp() override {
    home = fs::temp_directory_path() / ("hearth-store-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home);
    fs::create_directories(home);
  }
  void TearDown() override { fs::remove_all(home); }
  // Runs hearth with the store at `home`, no proxy, the hub at `endpoint`.
  test::CommandResult hearth(const std::string& args, const std::string& env = "") {
    const std::string cmd = "env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY HEARTH_HOME='" +
                            home.string() + "' " + env + " '" + test::hearth_binary().string() + "' " + args + " 2>&1";
    return test::run_command(cmd);
  }
};

TEST_F(StoreCli, NewcomerPullListRunRemove) {
  TestHub hub;
  hub.add("ggml-org/stories", "stories260K-f32.gguf", test::read_text(test::fixture("models/stories260K.gguf")));
  const std::string env = "HF_ENDPOINT=" + hub.endpoint();
  auto r = hearth("pull hf.co/ggml-org/stories:F32", env);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pulled hf.co/ggml-org/stories:F32"), std::string::npos) << r.out;

  r = hearth("list --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "hf.co/ggml-org/stories:F32");
  EXPECT_EQ(list[0]["size"], fs::file_size(test::fixture("models/stories260K.gguf")));
  EXPECT_EQ(list[0]["files"][0]["sha256"].get<std::string>().size(), 64u);
  r = hearth("list");
  EXPECT_NE(r.out.find("hf.co/ggml-org/stories:F32"), std::string::npos) << r.out;

  // The stored model runs by name, and gives what the file itself gives.
  const auto by_name = hearth("run hf.co/ggml-org/stories:F32 -p 'Once upon a time' -n 12 --temp 0 --json 2>/dev/null");
  ASSERT_EQ(by_name.status, 0) << by_name.out;
  const auto by_file = hearth("run '" + test::fixture("models/stories260K.gguf").string() +
                              "' -p 'Once upon a time' -n 12 --temp 0 --json 2>/dev/null");
  EXPECT_EQ(nlohmann::json::parse(by_name.out.substr(0, by_name.out.find('\n')))["tokens"],
            nlohmann::json::parse(by_file.out.substr(0, by_file.out.find('\n')))["tokens"]);

  r = hearth("show hf.co/ggml-org/stories:F32");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("source         hf.co/ggml-org/stories:F32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("architecture"), std::string::npos) << r.out;

  r = hearth("rm hf.co/ggml-org/stories:F32");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(hearth("list --json").out).size(), 0u);
  EXPECT_FALSE(fs::exists(home / "models/hf.co/ggml-org/stories/stories260K-f32.gguf"));
  r = hearth("rm hf.co/ggml-org/stories:F32");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("is not in the store"), std::string::npos) << r.out;
}

// Issue 15: a GGUF with its projector beside it is paired when imported, and
// the pair answers `run NAME --image` as the files themselves do.
TEST_F(StoreCli, ImportPairsTheProjectorBesideTheModel) {
  const fs::path dir = home / "files";
  fs::create_directories(dir);
  fs::copy_file(test::fixture("models/tiny-gemma3-vision-lm.gguf"), dir / "lm.gguf");
  fs::copy_file(test::fixture("models/mmproj-tinygemma3.gguf"), dir / "mmproj-lm.gguf");
  auto r = hearth("import '" + (dir / "lm.gguf").string() + "' --name vision");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_EQ(hearth("import '" + test::fixture("models/stories260K.gguf").string() + "' --name text").status, 0);
  const auto list = nlohmann::json::parse(hearth("list --json").out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_FALSE(list[0].contains("mmproj")) << list[0];  // "text": nothing fits beside it
  EXPECT_EQ(list[1]["name"], "vision");
  EXPECT_EQ(list[1]["mmproj"]["path"], (dir / "mmproj-lm.gguf").string());
  EXPECT_EQ(list[1]["mmproj"]["sha256"], test::sha256_hex(test::read_text(dir / "mmproj-lm.gguf")));
  const std::string image = (test::source_dir() / "tests/data/vision/images/wide48x20.png").string();
  const std::string args = " --image '" + image + "' -p 'What colour is the sky?' -n 6 --temp 0 --threads 1 --json 2>/dev/null";
  const auto by_name = hearth("run vision" + args);
  ASSERT_EQ(by_name.status, 0) << by_name.out;
  const auto by_file = hearth("run '" + test::fixture("models/tiny-gemma3-vision-lm.gguf").string() + "' --mmproj '" +
                              test::fixture("models/mmproj-tinygemma3.gguf").string() + "'" + args);
  ASSERT_EQ(by_file.status, 0) << by_file.out;
  const auto first_line = [](const std::string& out) { return nlohmann::json::parse(out.substr(0, out.find('\n'))); };
  EXPECT_EQ(first_line(by_name.out)["tokens"], first_line(by_file.out)["tokens"]);
  EXPECT_EQ(first_line(by_name.out)["tokens"].size(), 6u);
  // The import owns nothing: removing it keeps both files.
  ASSERT_EQ(hearth("rm vision text").status, 0);
  EXPECT_TRUE(fs::exists(dir / "mmproj-lm.gguf"));
}

TEST_F(StoreCli, RunPullsAMissingReference) {
  TestHub hub;
  hub.add("o/stories", "stories-Q8_0.gguf", test::read_text(test::fixture("models/stories260K.gguf")));
  const auto r = hearth("run hf.co/o/stories:q8_0 -p 'Once' -n 4 --temp 0", "HF_ENDPOINT=" + hub.endpoint());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pulled hf.co/o/stories:q8_0"), std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(hearth("list --json").out).size(), 1u);
}

TEST_F(StoreCli, PresetCarriesItsSettings) {
  const std::string model = test::fixture("models/stories260K.gguf").string();
  ASSERT_EQ(hearth("import '" + model + "' --name stories").status, 0);
  std::ofstream(home / "tmpl.jinja") << "{% for m in messages %}{{ m.content }}{% endfor %}";
  std::ofstream(home / "p.toml") << "model = \"stories\"\ntemplate = \"tmpl.jinja\"\nsystem = \"Be brief.\"\nctx = 64\n"
                                    "ctk = \"q8_0\"\n[sampling]\ntemperature = 0.0\ntop_k = 1\nseed = 7\n";
  auto r = hearth("create brief -f '" + (home / "p.toml").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  r = hearth("show brief");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("system = 'Be brief.'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ctx = 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("temperature = 0.0"), std::string::npos) << r.out;
  // The preset's ctx applies: a prompt past 64 tokens is refused with both sizes.
  r = hearth("run brief -p \"" + std::string(300, 'a') + "\" -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("64"), std::string::npos) << r.out;
  // And its plan uses its ctx and K type.
  r = hearth("plan brief --engine run --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto plan = nlohmann::json::parse(r.out);
  EXPECT_EQ(plan["n_ctx"], 64);
  EXPECT_EQ(plan["type_k"], "q8_0");
  // Served by its name, with its template and context.
  {
    const fs::path log = home / "serve.log";
    const std::string cmd = "HEARTH_HOME='" + home.string() + "' '" + test::hearth_binary().string() +
                            "' serve brief --port 0 -q --parallel 1 > '" + log.string() + "' 2>&1 & echo $!";
    const int pid = std::stoi(test::run_command(cmd).out);
    int port = 0;
    for (int i = 0; i < 300 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::string text = test::read_text(log);
      const auto at = text.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) port = std::stoi(text.substr(at + 30));
    }
    const std::string startup = test::read_text(log);
    ASSERT_GT(port, 0) << startup;
    EXPECT_NE(startup.find("model 'brief'"), std::string::npos) << startup;
    EXPECT_NE(startup.find("context 64 per conversation"), std::string::npos) << startup;
    httplib::Client client("127.0.0.1", port);
    const auto res = client.Post("/api/show", R"({"model":"brief"})", "application/json");
    ::kill(pid, SIGTERM);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(nlohmann::json::parse(res->body)["template"], "{% for m in messages %}{{ m.content }}{% endfor %}");
  }
  // Removing the import keeps the user's file.
  ASSERT_EQ(hearth("rm brief stories").status, 0);
  EXPECT_TRUE(fs::exists(model));
  // A bad preset names the key.
  std::ofstream(home / "bad.toml") << "model = \"x.gguf\"\nctk = \"q5_9\"\n";
  r = hearth("create bad -f '" + (home / "bad.toml").string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cache type 'q5_9'"), std::string::npos) << r.out;
}

TEST_F(StoreCli, PlanOfARemoteRepositoryReadsOnlyHeaders) {
  TestHub hub;
  uint64_t total = 0;
  for (const char* name : {"synth-qwen2-Q4_K_M.gguf", "synth-gemma3-Q4_K_M.gguf", "llama-2-tiny-random.gguf"}) {
    const std::string bytes = test::read_text(test::fixture(std::string("models/") + name));
    total += bytes.size();
    hub.add("o/many", name, bytes);
  }
  const auto r = hearth("plan hf.co/o/many --ctx 2048 --ctk q8_0 --ctv q8_0 --memory 16G --json",
                        "HF_ENDPOINT=" + hub.endpoint());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  // llama-2-tiny's 8-wide KV rows cannot hold q8_0 blocks: that row says so, the others plan.
  EXPECT_NE(rows[0]["error"].get<std::string>().find("multiple of 32"), std::string::npos) << rows[0];
  for (const auto& row : {rows[1], rows[2]}) {
    EXPECT_GT(row["kv"].get<uint64_t>(), 0u);
    EXPECT_EQ(row["total"].get<uint64_t>(), row["weights"].get<uint64_t>() + row["kv"].get<uint64_t>() +
                                                row["compute"].get<uint64_t>() + row["overhead"].get<uint64_t>());
    EXPECT_TRUE(row["fits"].get<bool>());
  }
  EXPECT_EQ(rows[1]["quant"], "Q4_K_M");
  EXPECT_EQ(rows[1]["file"], "synth-gemma3-Q4_K_M.gguf");
  // Each header's plan equals the plan of the whole local file.
  const auto local = hearth("plan '" + test::fixture("models/synth-gemma3-Q4_K_M.gguf").string() +
                            "' --ctx 2048 --ctk q8_0 --ctv q8_0 --json");
  ASSERT_EQ(local.status, 0) << local.out;
  EXPECT_EQ(nlohmann::json::parse(local.out)["total"], rows[1]["total"]);
  EXPECT_LT(uint64_t(hub.bytes_served()), total);  // the weights were not downloaded
  // Every read was a bounded Range request (the header's bytes, never "to the end").
  const auto ranges = hub.download_ranges();
  ASSERT_FALSE(ranges.empty());
  for (const std::string& range : ranges)
    EXPECT_TRUE(std::regex_match(range, std::regex(R"(bytes=\d+-\d+)"))) << "'" << range << "'";
  EXPECT_TRUE(nlohmann::json::parse(hearth("list --json").out).empty());  // nothing stored

  // One file named: its plan alone, the same as the local file's, still headers only.
  const int64_t served_before = hub.bytes_served();
  const auto one = hearth("plan hf.co/o/many/synth-gemma3-Q4_K_M.gguf --ctx 2048 --ctk q8_0 --ctv q8_0 --json --threads 2",
                          "HF_ENDPOINT=" + hub.endpoint());
  ASSERT_EQ(one.status, 0) << one.out;
  const auto local_one = hearth("plan '" + test::fixture("models/synth-gemma3-Q4_K_M.gguf").string() +
                                "' --ctx 2048 --ctk q8_0 --ctv q8_0 --json --threads 2");
  EXPECT_EQ(nlohmann::json::parse(one.out)["total"], nlohmann::json::parse(local_one.out)["total"]);
  EXPECT_LT(uint64_t(hub.bytes_served() - served_before), fs::file_size(test::fixture("models/synth-gemma3-Q4_K_M.gguf")));
  EXPECT_TRUE(nlohmann::json::parse(hearth("list --json").out).empty());
}

TEST_F(StoreCli, NoNetworkOutsidePull) {
  const std::string model = test::fixture("models/stories260K.gguf").string();
  // Any connection would go to a closed port and fail.
  const std::string offline = "HF_ENDPOINT=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 "
                              "HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9";
  for (const std::string& args : std::vector<std::string>{
        "import '" + model + "' --name s", "list", "list --json", "show s", "show '" + model + "'",
        "run s -p Once -n 4 --temp 0", "plan s --ctx 256", "plan '" + model + "' --fit --memory 64M",
        "tokenize s --text hello", "rm s"}) {
    const auto r = hearth(args, offline);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.out;
  }
  // A pull (and so a run of a missing reference) does use the network, and says so when it fails.
  const auto r = hearth("pull hf.co/o/r:Q4_0", offline);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("127.0.0.1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hearth::store

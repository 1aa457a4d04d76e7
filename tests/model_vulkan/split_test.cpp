// The model split across devices (--gpu-layers, --tensor-split): the first
// layers on the CPU DeviceBackend and the rest on lavapipe, within the
// tolerance rule of the public reference cases; two logical lavapipe devices
// (the one GPU opened twice) giving the very logits of one; a split decode
// step meeting the host once per device; and `hearth` itself placing the
// layers as asked and printing where each range runs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "backend/device.h"
#include "backend/vulkan/instance.h"
#include "lavapipe.h"
#include "common/fixtures.h"
#include "model/reference_runner.h"
#include "runtime/layer_split.h"

namespace {

using namespace hearth;
using namespace hearth::reference_test;

backend::DeviceBackend& gpu(int index) { return test::lavapipe(index); }

backend::DeviceBackend& cpu() {
  static std::unique_ptr<backend::DeviceBackend> device = backend::make_cpu_device_backend(2);
  return *device;
}

// The placements split_layers gives, on the CPU and the GPUs.
std::vector<model::LayerPlacement> placements(const model::Model& m, int gpu_layers, std::vector<double> shares) {
  std::vector<model::LayerPlacement> out;
  for (const runtime::LayerRun& run : runtime::split_layers(m.hparams().n_layer, gpu_layers, shares))
    out.push_back({run.device == runtime::kCpuDevice ? &cpu() : &gpu(run.device), run.first_layer, run.end_layer});
  return out;
}

// Representative cases: llama (stories260K), gemma3 (sliding-window ring
// tables on both sides of the boundary) and, with the full fixtures, an MoE
// (qwen3moe); each with its logits and its greedy case.
std::vector<std::string> split_cases() {
  std::vector<std::string> cases;
  for (const fs::path& c : reference_cases()) {
    const std::string model = c.parent_path().filename().string();
    if (model == "stories260K" || model == "synth-gemma3-Q4_K_M" || model == "synth-qwen3moe-Q4_K_M")
      cases.push_back(model + "/" + c.filename().string());
  }
  return cases;
}

fs::path case_file(const std::string& relative) {
  for (const fs::path& c : reference_cases())
    if (c.parent_path().filename().string() + "/" + c.filename().string() == relative) return c;
  return {};
}

class CpuVulkanSplitCase : public ::testing::TestWithParam<std::string> {};

// About half the layers on the CPU (llama.cpp's -ngl n_layer / 2 + 1: the
// later half and the output on lavapipe).
TEST_P(CpuVulkanSplitCase, WithinToleranceOfLlamaCpp) {
  const fs::path sidecar = case_file(GetParam());
  ASSERT_FALSE(sidecar.empty()) << "reference case " << GetParam() << " is missing";
  check_reference_case(sidecar, [](const model::Model& m, const runtime::SessionConfig& config) {
    const auto split = placements(m, m.hparams().n_layer / 2 + 1, {1});
    EXPECT_EQ(split.size(), 2u);
    EXPECT_EQ(split[0].dev, &cpu());
    return std::make_unique<runtime::Session>(m, split, config);
  });
}

INSTANTIATE_TEST_SUITE_P(CpuAndLavapipe, CpuVulkanSplitCase, ::testing::ValuesIn(split_cases()),
                         [](const auto& info) { return case_name(fs::path(info.param)); });

// The compact copy alone gives stories260K's and gemma3's 2 + 3 cases.
TEST(SplitReferenceData, CoversTheCompactCopy) { EXPECT_GE(split_cases().size(), 5u); }

std::unique_ptr<model::Model> load(const std::string& file) {
  const fs::path path = model_path(file);
  if (path.empty()) throw std::runtime_error("model " + file + " is missing");
  return model::Model::load(std::make_shared<const gguf::File>(gguf::File::open(path.string())));
}

// A prompt's every logits row, then three decode steps' rows.
std::vector<float> run(const model::Model& m, std::span<const model::LayerPlacement> split) {
  runtime::SessionConfig config;
  config.n_ctx = 96;
  config.n_ubatch = 16;  // several micro-batches
  runtime::Session session(m, split, config);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(1 + 37 * i % int(m.hparams().n_vocab - 1));
  std::vector<float> logits;
  session.eval(prompt, true, logits);
  for (int32_t token : {5, 9, 13}) {
    const float* row = session.decode(token);
    logits.insert(logits.end(), row, row + m.hparams().n_vocab);
  }
  return logits;
}

// Two logical devices split 1,1 compute what one computes: the same shaders
// on the same rows, the residual rows crossing bit for bit.
TEST(TwoDeviceSplit, LogitsEqualOneDevice) {
  for (const char* file : {"stories260K.gguf", "synth-gemma3-Q4_K_M.gguf"}) {
    const auto m = load(file);
    const int all = m->hparams().n_layer + 1;
    const auto two = placements(*m, all, {1, 1});
    ASSERT_EQ(two.size(), 2u) << file;
    EXPECT_EQ(two[0].dev, &gpu(0));
    EXPECT_EQ(two[1].dev, &gpu(1));
    EXPECT_GT(two[1].end_layer, two[1].first_layer) << file << ": the second device runs layers";
    const std::vector<model::LayerPlacement> one = {{&gpu(0), 0, m->hparams().n_layer}};
    const std::vector<float> split_logits = run(*m, two), whole = run(*m, one);
    ASSERT_EQ(split_logits.size(), whole.size());
    size_t differ = 0;
    for (size_t i = 0; i < whole.size(); ++i) differ += split_logits[i] != whole[i];
    EXPECT_EQ(differ, 0u) << file << ": " << differ << " of " << whole.size() << " logits differ";
  }
}

struct StepCounts {
  backend::DeviceCounters first, second;
};

backend::DeviceCounters delta(const backend::DeviceCounters& a, const backend::DeviceCounters& b) {
  return {b.submits - a.submits,       b.waits - a.waits,           b.uploads - a.uploads,
          b.downloads - a.downloads,   b.dispatches - a.dispatches, b.upload_bytes - a.upload_bytes,
          b.download_bytes - a.download_bytes};
}

// One decode step (after a prompt and a warm step) on a two-part split.
StepCounts decode_step(const model::Model& m, std::span<const model::LayerPlacement> split) {
  runtime::SessionConfig config;
  config.n_ctx = 64;
  config.n_ubatch = 16;
  runtime::Session session(m, split, config);
  std::vector<float> logits;
  session.eval(std::vector<int32_t>{1, 5, 9, 13, 17}, false, logits);
  session.decode(21);
  const auto a0 = split[0].dev->counters(), b0 = split[1].dev->counters();
  session.decode(25);
  return {delta(a0, split[0].dev->counters()), delta(b0, split[1].dev->counters())};
}

// No host round trip per op with a split either: each device is submitted
// to and waited for once a step; the residual row crosses once (down from
// the first, up to the second) and one logits row comes down; the inputs go
// up to each device (the token only to the first, the output row only to the
// second; the sliding layers' ring table row to both).
TEST(SplitDecodeStep, EachDeviceOnceTheResidualOnceAcross) {
  for (const char* file : {"stories260K.gguf", "synth-gemma3-Q4_K_M.gguf"}) {
    const auto m = load(file);
    const auto& hp = m->hparams();
    const uint64_t ring = m->has_sliding_layers() ? 1 : 0;
    const uint64_t residual = uint64_t(hp.n_embd) * 4;
    {  // two logical lavapipe devices
      const auto split = placements(*m, hp.n_layer + 1, {1, 1});
      ASSERT_EQ(split.size(), 2u);
      const StepCounts s = decode_step(*m, split);
      EXPECT_EQ(s.first.submits, 1u) << file;
      EXPECT_EQ(s.first.waits, 1u) << file;
      EXPECT_EQ(s.first.downloads, 1u) << file;
      EXPECT_EQ(s.first.download_bytes, residual) << file;
      EXPECT_EQ(s.first.uploads, 2u + ring) << file;  // token, position
      EXPECT_EQ(s.second.submits, 1u) << file;
      EXPECT_EQ(s.second.waits, 1u) << file;
      EXPECT_EQ(s.second.downloads, 1u) << file;
      EXPECT_EQ(s.second.download_bytes, uint64_t(hp.n_vocab) * 4) << file;
      EXPECT_EQ(s.second.uploads, 3u + ring) << file;  // position, output row, residual
      EXPECT_LE(s.first.dispatches + s.second.dispatches, uint64_t(32 * hp.n_layer + 8)) << file;
    }
    {  // the CPU, then lavapipe
      const auto split = placements(*m, hp.n_layer / 2 + 1, {1});
      ASSERT_EQ(split.size(), 2u);
      const StepCounts s = decode_step(*m, split);
      EXPECT_EQ(s.first.submits, 0u) << file;  // the CPU runs ops at the call
      EXPECT_EQ(s.first.downloads, 1u) << file;
      EXPECT_EQ(s.first.download_bytes, residual) << file;
      EXPECT_EQ(s.second.submits, 1u) << file;
      EXPECT_EQ(s.second.waits, 1u) << file;
      EXPECT_EQ(s.second.downloads, 1u) << file;
      EXPECT_EQ(s.second.uploads, 3u + ring) << file;
    }
  }
}

// Each layer's KV is on the device that runs it: the parts' caches add up to
// the one-device cache, and the CPU's share is its layers' rows.
TEST(SplitKv, EachDeviceHoldsItsLayersKv) {
  const auto m = load("synth-gemma3-Q4_K_M.gguf");
  runtime::SessionConfig config;
  config.n_ctx = 64;
  config.n_ubatch = 16;
  const std::vector<model::LayerPlacement> one = {{&gpu(0), 0, m->hparams().n_layer}};
  const auto split = placements(*m, m->hparams().n_layer / 2 + 1, {1});
  runtime::Session whole(*m, one, config), parts(*m, split, config);
  EXPECT_EQ(parts.kv_bytes(), whole.kv_bytes());
  const auto where = parts.placement();
  ASSERT_EQ(where.size(), 2u);
  EXPECT_EQ(where[0].dev, &cpu());
  EXPECT_EQ(where[1].dev, &gpu(0));
  EXPECT_EQ(where[0].end_layer, where[1].first_layer);
}

// `hearth` as a person runs it: a split's logits file equals the one-device
// file, and `run` prints each layer range's backend and device.
TEST(SplitCommand, TensorSplitLogitsEqualOneDeviceAndRunPrintsTheRanges) {
  const fs::path sidecar = test::fixture("reference/stories260K/seq64.json");
  ASSERT_FALSE(sidecar.empty());
  const json ref = json::parse(test::read_text(sidecar));
  const fs::path tokens = fs::temp_directory_path() / "hearth_split_tokens.json";
  std::ofstream(tokens) << ref["tokens"].dump();
  const std::string model = (test::source_dir() / "models/stories260K.gguf").string();
  const auto logits = [&](const std::string& options, const fs::path& out) {
    const auto r = test::run_command(test::hearth_binary().string() + " logits '" + model + "' --tokens " +
                                     tokens.string() + " --out " + out.string() + " --ctx 128 " + options +
                                     " 2>/dev/null");
    EXPECT_EQ(r.status, 0) << options;
    std::vector<float> v(size_t(fs::file_size(out)) / 4);
    std::ifstream(out, std::ios::binary).read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
    return v;
  };
  const auto one = logits("--devices vulkan0", fs::temp_directory_path() / "hearth_split_one.bin");
  const auto two = logits("--devices vulkan0,vulkan0 --tensor-split 3,1",
                          fs::temp_directory_path() / "hearth_split_two.bin");
  ASSERT_EQ(one.size(), 64u * 512u);
  EXPECT_TRUE(one == two) << "--tensor-split 3,1 over two logical devices changed the logits";

  // stories260K has 5 layers: --gpu-layers 3 offloads layers 3-4 and the output.
  const auto r = test::run_command(test::hearth_binary().string() + " run '" + model +
                                   "' -p 'Once upon a time' -n 4 --temp 0 --devices vulkan0 --gpu-layers 3 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("layers 0-2 on the CPU ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers 3-4 and the output on vulkan0 ("), std::string::npos) << r.out;
  const auto bad = test::run_command(test::hearth_binary().string() + " run '" + model +
                                     "' -p x -n 1 --devices vulkan0 --tensor-split 3,1 2>&1");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--tensor-split 3,1: 2 share(s) for 1 device(s)"), std::string::npos) << bad.out;
}

}  // namespace

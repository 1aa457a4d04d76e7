// The model on the Vulkan backend (lavapipe in CI, named explicitly as
// --devices vulkan0 would): public reference cases through the whole
// forward pass on the device, within the tolerance rule of
// model/reference_runner.h, and the device-resident contract of a decode
// step (one submit, its inputs up, one logits row down).
//
// The cases: every public reference case (llama in 15 weight types and
// tied, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3; greedy and logits; f16
// KV unfused, q8_0 and q4_0 KV with flash attention; a 1000-token context),
// and the compact copy's models the fixtures lack: BitNet in TQ1_0 and TQ2_0
// (sub-norms), gpt-oss in MXFP4 (attention sinks, expert biases,
// SwiGLU-OAI; its seq200 not yet, see vulkan_cases) and the IQ1-IQ3 lattice
// types (synth-lattice-IQ). With only
// the compact copy in tests/data: those, llama (stories260K), qwen2 (NEOX
// rope, q/k/v biases), gemma3 (sliding-window ring tables, q/k norms, GELU,
// post-norms) and phi3 (fused QKV and gate/up, every layer windowed).
#include <algorithm>

#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/vulkan/instance.h"
#include "lavapipe.h"
#include "model/reference_runner.h"

namespace {

using namespace hearth;
using namespace hearth::reference_test;

using test::lavapipe;

// Every reference case: from the full fixtures when present, and from the
// compact copy for the models only it has. Except one: gpt-oss's seq200,
// where at row 197 an expert choice of a near-tie router goes the other way
// on lavapipe (argmax 23 for 3, margin 0.82), as the CPU's scalar kernels
// part from llama.cpp by 1.7 at row 109 of the same case: the quantized
// activations amplify last-bit differences, and the Vulkan float ops (exp,
// sums, the unfused softmax) are the scalar reference's up to rounding but
// not yet its bits everywhere (issue 13).
std::vector<std::string> vulkan_cases() {
  std::vector<std::string> cases;
  for (const fs::path& c : reference_cases()) {
    const std::string name = c.parent_path().filename().string() + "/" + c.filename().string();
    if (name != "synth-gpt-oss-MXFP4/seq200.json") cases.push_back(name);
  }
  return cases;
}

fs::path case_file(const std::string& relative) {
  for (const fs::path& c : reference_cases())
    if (c.parent_path().filename().string() + "/" + c.filename().string() == relative) return c;
  return {};
}

class VulkanReferenceCase : public ::testing::TestWithParam<std::string> {};

TEST_P(VulkanReferenceCase, WithinToleranceOfLlamaCpp) {
  const fs::path sidecar = case_file(GetParam());
  ASSERT_FALSE(sidecar.empty()) << "reference case " << GetParam() << " is missing (tests/data/reference)";
  check_reference_case(sidecar, [](const model::Model& m, const runtime::SessionConfig& config) {
    return std::make_unique<runtime::Session>(m, lavapipe(), config);
  });
}

INSTANTIATE_TEST_SUITE_P(Lavapipe, VulkanReferenceCase, ::testing::ValuesIn(vulkan_cases()),
                         [](const auto& info) { return case_name(fs::path(info.param)); });

// The compact copy alone gives these 17 (a fresh machine without the
// fixtures): stories260K, qwen2, gemma3, phi3, and BitNet (TQ1_0, TQ2_0),
// gpt-oss and synth-lattice-IQ, which must not be left out.
TEST(VulkanReferenceData, CoversTheCompactCopy) {
  const auto cases = vulkan_cases();
  EXPECT_GE(cases.size(), 17u);
  for (const char* model : {"synth-bitnet-TQ1_0/", "synth-bitnet-TQ2_0/", "synth-gpt-oss-MXFP4/", "synth-lattice-IQ/"})
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [&](const std::string& c) { return c.rfind(model, 0) == 0; }))
        << model;
}

struct Loaded {
  std::unique_ptr<model::Model> model;
};

Loaded load(const std::string& file) {
  const fs::path path = model_path(file);
  if (path.empty()) throw std::runtime_error("model " + file + " is missing");
  return {model::Model::load(std::make_shared<const gguf::File>(gguf::File::open(path.string())))};
}

// A decode step's meetings of host and device, after a prompt and one warm
// step (weights are uploaded on first use).
backend::DeviceCounters decode_step(backend::DeviceBackend& device, const model::Model& m) {
  runtime::SessionConfig config;
  config.n_ctx = 64;
  config.n_ubatch = 16;
  runtime::Session session(m, device, config);
  std::vector<float> logits;
  session.eval(std::vector<int32_t>{1, 5, 9, 13, 17}, false, logits);
  session.decode(21);
  const backend::DeviceCounters before = device.counters();
  session.decode(25);
  const backend::DeviceCounters after = device.counters();
  backend::DeviceCounters step;
  step.submits = after.submits - before.submits;
  step.waits = after.waits - before.waits;
  step.uploads = after.uploads - before.uploads;
  step.downloads = after.downloads - before.downloads;
  step.dispatches = after.dispatches - before.dispatches;
  step.upload_bytes = after.upload_bytes - before.upload_bytes;
  step.download_bytes = after.download_bytes - before.download_bytes;
  return step;
}

// No host round trip per op: one submit and one wait per decode step; the
// token, its position and its output row go up (plus the sliding layers'
// ring table, one row), one logits row comes down; the ops are recorded, at
// most 32 per layer (gemma3's norms, q/k norms and rope included).
TEST(VulkanDecodeStep, OneSubmitItsInputsUpOneLogitsRowDown) {
  for (const char* file : {"stories260K.gguf", "synth-gemma3-Q4_K_M.gguf"}) {
    const Loaded l = load(file);
    const auto& hp = l.model->hparams();
    const backend::DeviceCounters step = decode_step(lavapipe(), *l.model);
    EXPECT_EQ(step.submits, 1u) << file;
    EXPECT_EQ(step.waits, 1u) << file;
    EXPECT_EQ(step.downloads, 1u) << file;
    EXPECT_EQ(step.download_bytes, uint64_t(hp.n_vocab) * 4) << file;
    EXPECT_EQ(step.uploads, l.model->has_sliding_layers() ? 4u : 3u) << file;
    EXPECT_EQ(step.upload_bytes, 12u + (l.model->has_sliding_layers() ? 64u * 4 : 0u)) << file;
    EXPECT_GT(step.dispatches, uint64_t(hp.n_layer)) << file;
    EXPECT_LE(step.dispatches, uint64_t(32 * hp.n_layer + 8)) << file;
  }
}

// The same forward on the CPU DeviceBackend meets the host the same way
// (its ops run at the call: no submits).
TEST(CpuDecodeStep, ItsInputsUpOneLogitsRowDown) {
  const Loaded l = load("stories260K.gguf");
  auto cpu = backend::make_cpu_device_backend(2);
  const backend::DeviceCounters step = decode_step(*cpu, *l.model);
  EXPECT_EQ(step.submits, 0u);
  EXPECT_EQ(step.downloads, 1u);
  EXPECT_EQ(step.uploads, 3u);
}

// The CPU DeviceBackend and lavapipe give the same greedy continuation and
// logits within float rounding (the forward is one code path for both).
TEST(VulkanForward, MatchesTheCpuDeviceBackend) {
  const Loaded l = load("synth-qwen2-Q4_K_M.gguf");
  auto cpu = backend::make_cpu_device_backend(2);
  runtime::SessionConfig config;
  config.n_ctx = 64;
  config.n_ubatch = 7;  // several micro-batches
  runtime::Session on_cpu(*l.model, *cpu, config), on_gpu(*l.model, lavapipe(), config);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 20; ++i) prompt.push_back(1 + 37 * i % int(l.model->hparams().n_vocab - 1));
  std::vector<float> a, b;
  on_cpu.eval(prompt, true, a);
  on_gpu.eval(prompt, true, b);
  ASSERT_EQ(a.size(), b.size());
  double max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) max_abs = std::max(max_abs, std::fabs(double(a[i]) - b[i]));
  EXPECT_LE(max_abs, 2e-2) << "logits of " << prompt.size() << " tokens";
}

}  // namespace

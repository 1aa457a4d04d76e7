// Models served on shared devices (server/serve_devices.h), with CPU
// DeviceBackends standing in for GPUs (server_e2e_vulkan runs the whole
// server suite on lavapipe): two models on one set of devices, split across
// the CPU and two devices, answering at the same time, give the CPU's greedy
// text; their placement says which device holds which layers; and the
// registry counts the device layers against the devices' budgets, as
// `hearth plan --devices` plans them.
#include <gtest/gtest.h>

#include <thread>

#include "backend/cpu/kernels.h"
#include "backend/ops/cpu_device_backend.h"
#include "common/fixtures.h"
#include "session_greedy.h"
#include "plan/plan.h"
#include "runtime/session.h"
#include "server/api_error.h"
#include "server/model_registry.h"
#include "server/served_model.h"

namespace hearth::server {
namespace {

std::shared_ptr<ServeDevices> cpu_devices(int n, const std::string& gpu_layers, const std::string& tensor_split) {
  auto d = std::make_shared<ServeDevices>();
  for (int i = 0; i < n; ++i)
    d->devices.push_back(std::make_unique<backend::CpuDeviceBackend>(cpu::select_kernels(cpu::detect_cpu_features()), 1));
  d->gpu_layers = gpu_layers;
  d->tensor_split = tensor_split;
  for (int i = 0; i < n; ++i) d->budgets.push_back(UINT64_MAX);
  return d;
}

ModelLoadOptions stories(const std::string& id, std::shared_ptr<ServeDevices> devices) {
  ModelLoadOptions o;
  o.path = (test::source_dir() / "models/stories260K.gguf").string();
  o.id = id;
  o.n_ctx = 256;
  o.n_parallel = 2;
  o.n_batch = 32;
  o.n_threads = 1;
  o.devices = std::move(devices);
  return o;
}

// The reference: one Session on the CPU, argmax each step.
std::string cpu_greedy(const ServedModel& m, const std::string& prompt, int n) {
  return test_support::session_greedy(m, m.tokenize_prompt(prompt), n);
}

std::string drain(Generation& g) {
  std::string text;
  for (int i = 0; i < 600; ++i) {  // at most a minute
    GenerationChunk c = g.take(std::chrono::milliseconds(100));
    text += c.text;
    if (c.done) {
      EXPECT_TRUE(c.finish == FinishReason::Stop || c.finish == FinishReason::Length) << c.error;
      return text;
    }
  }
  ADD_FAILURE() << "generation did not finish";
  return text;
}

TEST(ServeDevices, TwoModelsSplitOnSharedDevicesAnswerAsTheCpu) {
  // stories260K: 5 layers and the output; the last 3 of those 6 offloaded,
  // half and half: layers 0-2 on the CPU, 3-4 on the first device, the
  // output on the second (runtime/layer_split.h).
  const auto devices = cpu_devices(2, "3", "1,1");
  const auto a = ServedModel::load(stories("a", devices));
  const auto b = ServedModel::load(stories("b", devices));
  const std::string device = devices->devices[0]->info().name, host = backend::make_cpu_backend(1)->name();
  EXPECT_EQ(a->placement(), "layers 0-2 on the CPU (" + host + ")\nlayers 3-4 on cpu (" + device +
                                ", cpu)\nthe output on cpu (" + device + ", cpu)");
  EXPECT_EQ(a->placement(), b->placement());

  const std::vector<std::string> prompts = {"Once upon a time", "The little dog ran to the park", "Lily and Tom"};
  std::vector<std::shared_ptr<Generation>> gens;
  for (const std::string& p : prompts) {
    for (ServedModel* m : {a.get(), b.get()}) {
      GenerationParams params;
      params.prompt = m->tokenize_prompt(p);
      params.max_tokens = 16;
      params.sampling.temperature = 0;
      gens.push_back(m->engine().submit(std::move(params)));
      ASSERT_TRUE(gens.back());
    }
  }
  for (size_t i = 0; i < gens.size(); ++i)
    EXPECT_EQ(drain(*gens[i]), cpu_greedy(*a, prompts[i / 2], 16)) << prompts[i / 2] << (i % 2 ? " (b)" : " (a)");
  // Both engines recorded on the shared devices, and hold their memory there.
  EXPECT_GT(devices->devices[0]->counters().allocated_bytes + devices->devices[0]->counters().dispatches, 0u);
}

TEST(ServeDevices, AnEncoderStaysOnTheCpuAndSaysSo) {
  const auto devices = cpu_devices(1, "all", "");
  ModelLoadOptions o = stories("bert", devices);
  o.path = (test::source_dir() / "tests/data/models/synth-bert-F16.gguf").string();
  const auto m = ServedModel::load(o);
  EXPECT_NE(m->placement().find("on the CPU"), std::string::npos) << m->placement();
  EXPECT_NE(m->placement().find("encoder"), std::string::npos) << m->placement();
  EXPECT_TRUE(ServedModel::layer_runs(m->model(), o).empty());
}

TEST(ServeDevices, TheRegistryPlansDeviceLayersAgainstTheDeviceBudget) {
  const auto devices = cpu_devices(1, "all", "");
  ModelSpec spec;
  spec.name = "stories";
  spec.load = stories("stories", devices);
  spec.keep_alive = std::nullopt;
  RegistryOptions options;
  options.engine = spec.load;
  options.log = false;

  // What `hearth plan --devices` plans for the device, and the host's header.
  const auto model = model::Model::load(std::make_shared<const gguf::File>(gguf::File::open(spec.load.path)));
  plan::PlanOptions p;
  p.n_ctx = 256;
  p.n_parallel = 2;
  p.n_batch = 32;
  p.n_threads = 1;
  p.packed_types = plan::cpu_packed_types(cpu::select_kernels(cpu::detect_cpu_features()));
  const uint64_t host_overhead = plan::make_plan(*model, p).overhead;
  p.device = true;
  p.device_alignment = devices->devices[0]->info().buffer_alignment;
  p.device_staging = devices->devices[0]->info().staging_bytes;
  const uint64_t on_device = plan::make_plan(*model, p).total();
  {
    ModelRegistry registry({spec}, options);
    const Footprint planned = registry.planned_bytes(spec);
    ASSERT_EQ(planned.size(), 2u);
    EXPECT_EQ(planned[0], host_overhead);
    EXPECT_EQ(planned[1], on_device);
    registry.load_pinned();
    const auto loaded = registry.loaded();
    ASSERT_EQ(loaded.size(), 1u);
    EXPECT_EQ(loaded[0].device_bytes, on_device);
    EXPECT_EQ(loaded[0].bytes, on_device + host_overhead);
  }
  // A device budget one byte short: refused with both sizes, naming the device.
  devices->budgets = {on_device - 1};
  ModelRegistry registry({spec}, options);
  try {
    registry.acquire("stories");
    ADD_FAILURE() << "loaded over the device budget";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "model_too_large");
    const std::string message = e.what();
    EXPECT_NE(message.find(std::to_string(on_device) + " bytes of cpu memory"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(on_device - 1) + " bytes; --max-device-memory"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace hearth::server

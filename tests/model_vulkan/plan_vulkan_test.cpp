// The plan for a Vulkan device against the bytes the backend really
// allocates (lavapipe in CI, named as --devices vulkan0 would): a fresh
// backend loads a fixture model, makes the engine the plan describes and
// fills its whole context; its peak device allocation
// (DeviceCounters::peak_allocated_bytes: weights uploaded, KV cache,
// workspace, block tables, matmul scratch, staging) must be within 3% of the
// plan's total. Over the compact set's models, several contexts and K/V
// types, for both `hearth run`'s session and the serve engine.
#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/vulkan/instance.h"
#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "plan/measure.h"
#include "plan/plan.h"

namespace hearth::plan {
namespace {

std::string first_device() {
  std::string why;
  const auto devices = vulkan::list_devices(&why);
  if (devices.empty()) throw std::runtime_error("no Vulkan device (" + why + "); scripts/setup installs lavapipe");
  return devices.front().id;
}

struct Case {
  const char* model;
  int64_t n_ctx;
  DType k, v;
  bool paged;
};

void check(const Case& c) {
  const std::string path = test::fixture(std::string("models/") + c.model).string();
  ASSERT_FALSE(path.empty()) << c.model << " is missing (tests/data/models)";
  const std::string id = first_device();
  std::unique_ptr<backend::DeviceBackend> probe = vulkan::make_backend(id);
  PlanOptions o;
  o.n_ctx = c.n_ctx;
  o.type_k = c.k;
  o.type_v = c.v;
  o.paged = c.paged;
  o.n_batch = 512;
  o.device = true;
  o.device_alignment = probe->info().buffer_alignment;
  o.device_staging = probe->info().staging_bytes;
  ASSERT_GT(o.device_alignment, 0u);
  ASSERT_GT(o.device_staging, 0u);
  probe.reset();
  auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
  const auto model = model::Model::load(file);
  const Plan p = make_plan(*model, o);
  const int64_t measured = measure_device_allocation(path, o, [&] { return vulkan::make_backend(id); });
  ASSERT_GT(measured, 0) << c.model;
  const double error = (double(p.total()) - double(measured)) / double(measured);
  fmt::print("{:<26} ctx {:>5} {:>4}/{:<4} {:<5} plan {:>10} (w {} kv {} c {})  allocated {:>10}  {:+.2f}%\n", c.model,
             c.n_ctx, dtype_name(c.k), dtype_name(c.v), c.paged ? "serve" : "run", p.total(), p.weights, p.kv,
             p.compute, measured, error * 100);
  std::fflush(stdout);
  EXPECT_LT(std::abs(error), 0.03) << c.model << " ctx " << c.n_ctx << ": plan " << p.total() << ", allocated "
                                   << measured;
}

// Qwen2 (biases), Gemma 3 (sliding windows, tied output), Phi-3 (fused QKV,
// every layer windowed).
TEST(VulkanPlanAccuracy, WithinThreePercentOfAllocated) {
  // Short contexts: lavapipe fills them slowly, and every case builds its
  // pipelines again on its fresh backend.
  check({"synth-qwen2-Q4_K_M.gguf", 512, DType::F16, DType::F16, false});
  check({"synth-gemma3-Q4_K_M.gguf", 768, DType::Q8_0, DType::Q8_0, true});
  check({"synth-phi3-Q4_K_M.gguf", 256, DType::Q4_0, DType::Q4_0, false});
}

}  // namespace
}  // namespace hearth::plan

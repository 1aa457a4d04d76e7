// The plan against the memory the engine really takes: a child process loads
// a model, makes the engine and fills its whole context; its peak RSS growth
// (VmHWM after the fill minus VmRSS before loading, less the pages of the
// program's own code it ran for the first time; plan/measure.h) must be
// within 3% of the plan's total. Over the fixture models, several contexts and K/V types, for
// both `hearth run`'s session and the serve engine's paged pool.

#include <algorithm>
#include <array>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels.h"
#include "common/fixtures.h"
#include "model/model.h"
#include "plan/measure.h"
#include "plan/plan.h"

namespace hearth::plan {
namespace {

constexpr int kThreads = 2;

struct Case {
  std::string model;
  int64_t n_ctx;
  DType k, v;
  bool paged;
  int n_parallel = 1;
};

PlanOptions options_for(const Case& c) {
  PlanOptions o;
  o.n_ctx = c.n_ctx;
  o.type_k = c.k;
  o.type_v = c.v;
  o.paged = c.paged;
  o.n_parallel = c.n_parallel;
  o.n_threads = kThreads;
  o.n_batch = 512;
  o.packed_types = cpu_packed_types(cpu::select_kernels(cpu::detect_cpu_features()));
  return o;
}

// In a child process (plan/measure.h): RSS growth (bytes) from before
// loading to the peak after filling every sequence's context.
int64_t measure(const Case& c) { return measure_peak_rss_growth(c.model, options_for(c)); }

// The engines leave no page of the model file resident that these models
// read in place (Model::prepare_weights copies the vectors, drops the file
// and reads embedding rows with pread), so the growth no longer depends on
// the page cache; what is left to chance is small (glibc's arena, the
// threads' stacks), and each case still takes the median of three
// measurements against it.
int64_t median_measurement(const Case& c) {
  std::array<int64_t, 3> m{measure(c), measure(c), measure(c)};
  std::sort(m.begin(), m.end());
  return m[1];
}

void check(const Case& c) {
  constexpr double kTolerance = 0.03;
  auto file = std::make_shared<const gguf::File>(gguf::File::open(c.model));
  const auto model = model::Model::load(file);
  const Plan p = make_plan(*model, options_for(c));
  const int64_t measured = median_measurement(c);
  ASSERT_GT(measured, 0) << c.model;
  const double error = (double(p.total()) - double(measured)) / double(measured);
  fmt::print("{:<28} ctx {:>6} x{} {:>4}/{:<4} {:<5} plan {:>10} (w {} kv {} c {} o {})  measured {:>10}  {:+.2f}%\n",
             std::filesystem::path(c.model).filename().string(), c.n_ctx, c.n_parallel, dtype_name(c.k), dtype_name(c.v),
             c.paged ? "serve" : "run", p.total(), p.weights, p.kv, p.compute, p.overhead, measured, error * 100);
  std::fflush(stdout);
  EXPECT_LT(std::abs(error), kTolerance) << c.model << " ctx " << c.n_ctx << ": plan " << p.total() << " measured "
                                    << measured;
}

std::string model_path(const char* name) { return test::fixture(std::string("models/") + name).string(); }

// The compact set's models (tests/data keeps them for fresh machines):
// Qwen2 (biases), Gemma 3 (sliding windows, tied output), Phi-3 (fused
// QKV), and llama-2-tiny (32000-token header, 8-wide KV rows, so its caches
// stay f16/f32: quantized K/V needs rows in blocks of 32).
struct FixtureModel {
  const char* name;
  bool quantized_kv;
};
constexpr FixtureModel kModels[] = {{"synth-qwen2-Q4_K_M.gguf", true},
                                    {"synth-gemma3-Q4_K_M.gguf", true},
                                    {"synth-phi3-Q4_K_M.gguf", true},
                                    {"llama-2-tiny-random.gguf", false}};

TEST(PlanAccuracy, RunSessionWithinThreePercent) {
  for (const FixtureModel& m : kModels) {
    check({model_path(m.name), 2048, DType::F16, DType::F16, false});
    check({model_path(m.name), 1024, DType::F32, DType::F16, false});
    if (m.quantized_kv) check({model_path(m.name), 4096, DType::Q8_0, DType::Q8_0, false});
  }
}

TEST(PlanAccuracy, ServeEngineWithinThreePercent) {
  for (const FixtureModel& m : kModels) {
    check({model_path(m.name), 1000, DType::F16, DType::F16, true, 2});
    if (m.quantized_kv) check({model_path(m.name), 2048, DType::Q4_0, DType::Q4_0, true, 1});
  }
}

}  // namespace
}  // namespace hearth::plan

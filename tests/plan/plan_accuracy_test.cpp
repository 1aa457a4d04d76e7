// The plan against the memory the engine really takes: a child process loads
// a model, makes the engine and fills its whole context; its peak RSS growth
// (VmHWM after the fill minus VmRSS before loading, less the pages of the
// program's own code it ran for the first time) must be within 3% of the
// plan's total. Over the fixture models, several contexts and K/V types, for
// both `hearth run`'s session and the serve engine's paged pool.
#include <fcntl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "common/fixtures.h"
#include "model/model.h"
#include "plan/plan.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"

namespace hearth::plan {
namespace {

constexpr int kThreads = 2;

// Resident KiB of the program's own files (its code and libraries): every
// file mapping except the model's. Code pages are touched the first time a
// function runs, whatever the model, so they are not the model's memory.
int64_t code_kib(const std::string& model_path) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool counting = false;
  int64_t total = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16) {
      const auto slash = line.find('/');
      counting = slash != std::string::npos && line.substr(slash) != model_path;
    } else if (counting && line.rfind("Rss:", 0) == 0) {
      total += std::stoll(line.substr(4));
    }
  }
  return total;
}

int64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  return -1;
}

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
  const cpu::Kernels kernels = cpu::select_kernels(cpu::detect_cpu_features());
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    if (kernels.packed_gemm_for(t) != nullptr) o.packed_types.push_back(t);
  return o;
}

// In a child process: RSS growth (bytes) from before loading to the peak
// after filling every sequence's context.
int64_t measure(const Case& c) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int64_t growth = -1;
    try {
      // The code that reads smaps and status runs once before either count:
      // its own first-run code pages (a few hundred KiB of libstdc++ and
      // filesystem code) would otherwise land in the growth but not in the
      // code subtracted from it.
      // Memory the parent freed (earlier cases' models and engines) is
      // resident and would be reused here without growing the RSS: give it
      // back first.
      malloc_trim(0);
      const std::string canonical_model = std::filesystem::canonical(c.model).string();
      (void)code_kib(canonical_model);
      (void)status_kib("VmRSS:");
      const int64_t code_before = code_kib(canonical_model);
      { std::ofstream("/proc/self/clear_refs") << "5"; }  // reset the peak to the current RSS
      const int64_t before = status_kib("VmRSS:");
      auto file = std::make_shared<const gguf::File>(gguf::File::open(c.model));
      auto model = model::Model::load(file);
      auto be = backend::make_cpu_backend(kThreads);

      const int64_t n_vocab = model->hparams().n_vocab;
      std::vector<int32_t> tokens(size_t(c.n_ctx));
      uint32_t state = 12345;
      for (auto& t : tokens) t = int32_t((state = state * 1664525u + 1013904223u) % uint32_t(n_vocab));
      std::vector<float> logits;
      const bool fa = dtype_info(c.v).quantized;
      if (!c.paged) {
        runtime::SessionConfig sc;
        sc.n_ctx = c.n_ctx;
        sc.n_ubatch = 512;
        sc.type_k = c.k;
        sc.type_v = c.v;
        sc.flash_attn = fa;
        runtime::Session session(*model, *be, sc);
        session.eval(tokens, false, logits);
        growth = (status_kib("VmHWM:") - before - (code_kib(canonical_model) - code_before)) * 1024;
      } else {
        runtime::BatchEngineConfig bc;
        bc.n_slots = c.n_parallel;
        bc.n_ctx_per_slot = c.n_ctx;
        bc.n_batch = 512;
        bc.type_k = c.k;
        bc.type_v = c.v;
        bc.flash_attn = fa;
        runtime::BatchEngine engine(*model, *be, bc);
        // Every slot's context filled, each with its own tokens, 512 at a time.
        for (int s = 0; s < c.n_parallel; ++s) {
          for (auto& t : tokens) t = int32_t((state = state * 1664525u + 1013904223u) % uint32_t(n_vocab));
          for (int64_t at = 0; at < c.n_ctx; at += 512) {
            const int64_t n = std::min<int64_t>(512, c.n_ctx - at);
            runtime::SlotInput in{s, std::span<const int32_t>(tokens.data() + at, size_t(n)), at + n == c.n_ctx};
            engine.step(std::span<const runtime::SlotInput>(&in, 1), logits);
          }
        }
        growth = (status_kib("VmHWM:") - before - (code_kib(canonical_model) - code_before)) * 1024;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child failed: %s\n", e.what());
    }
    (void)!write(fds[1], &growth, sizeof growth);
    _exit(0);
  }
  close(fds[1]);
  int64_t growth = -1;
  (void)!read(fds[0], &growth, sizeof growth);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return growth;
}

// The run session and the serve engine pack weights into heap copies and
// drop the file's pages as they go; the pages read in place (norms, biases,
// the embedding rows) come back with their fault-around neighbours, which
// moves the total of these ~1 MB fixtures by up to ~150 KiB from run to run
// (page cache state): each case takes the median of three measurements.
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

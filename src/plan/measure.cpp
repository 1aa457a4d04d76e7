#include "plan/measure.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/batch_engine.h"
#include "runtime/session.h"

namespace hearth::plan {
namespace {

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

int64_t context_of(const model::Model& model, const PlanOptions& o) {
  const int64_t train = model.hparams().n_ctx_train;
  return o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(train > 0 ? train : 4096, 4096);
}

// Makes the plan's engine on `be` (a host Backend or a DeviceBackend) and
// fills every sequence's whole context with random tokens, a batch at a
// time; `done` runs while the engine is still alive.
template <typename Be, typename Done>
void fill_context(const model::Model& model, Be& be, const PlanOptions& o, Done&& done) {
  const int64_t n_ctx = context_of(model, o);
  const int64_t n_vocab = model.hparams().n_vocab;
  std::vector<int32_t> tokens(static_cast<size_t>(n_ctx));
  uint32_t state = 12345;
  for (auto& t : tokens) t = int32_t((state = state * 1664525u + 1013904223u) % uint32_t(n_vocab));
  std::vector<float> logits;
  const bool fa = dtype_info(o.type_v).quantized;
  if (!o.paged) {
    runtime::SessionConfig sc;
    sc.n_ctx = n_ctx;
    sc.n_ubatch = o.n_batch;
    sc.type_k = o.type_k;
    sc.type_v = o.type_v;
    sc.flash_attn = fa;
    runtime::Session session(model, be, sc);
    session.eval(tokens, false, logits);
    done();
    return;
  }
  runtime::BatchEngineConfig bc;
  bc.n_slots = o.n_parallel;
  bc.n_ctx_per_slot = n_ctx;
  bc.n_batch = o.n_batch;
  bc.type_k = o.type_k;
  bc.type_v = o.type_v;
  bc.flash_attn = fa;
  bc.n_cache_blocks = o.n_cache_blocks;
  runtime::BatchEngine engine(model, be, bc);
  // Every slot's context filled, each with its own tokens, a batch at a time.
  for (int s = 0; s < o.n_parallel; ++s) {
    for (auto& t : tokens) t = int32_t((state = state * 1664525u + 1013904223u) % uint32_t(n_vocab));
    for (int64_t at = 0; at < n_ctx; at += o.n_batch) {
      const int64_t n = std::min<int64_t>(o.n_batch, n_ctx - at);
      runtime::SlotInput in{s, std::span<const int32_t>(tokens.data() + at, size_t(n)), at + n == n_ctx};
      engine.step(std::span<const runtime::SlotInput>(&in, 1), logits);
    }
  }
  done();
}

// The child's work: the growth in bytes.
int64_t measure_here(const std::string& model_path, const PlanOptions& o, const std::string& isa) {
  // Memory the parent freed is resident and would be reused here without
  // growing the RSS: give it back first. The code that reads smaps and
  // status runs once before either count, so its own first-run pages do not
  // land in the growth.
  malloc_trim(0);
  // glibc raises its mmap threshold when a mapped chunk is freed, so large
  // buffers would come from the arena or not depending on what the parent
  // freed before; the plan counts them as a fresh process lays them out.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  const std::string canonical_model = std::filesystem::canonical(model_path).string();
  (void)code_kib(canonical_model);
  (void)status_kib("VmRSS:");
  const int64_t code_before = code_kib(canonical_model);
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // reset the peak to the current RSS
  const int64_t before = status_kib("VmRSS:");
  auto file = std::make_shared<const gguf::File>(gguf::File::open(model_path));
  auto model = model::Model::load(file);
  auto be = backend::make_cpu_backend(std::max(1, o.n_threads), isa);
  int64_t growth = -1;
  fill_context(*model, *be, o, [&] {
    growth = (status_kib("VmHWM:") - before - (code_kib(canonical_model) - code_before)) * 1024;
  });
  return growth;
}

}  // namespace

int64_t measure_peak_rss_growth(const std::string& model_path, const PlanOptions& options, const std::string& isa) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    int64_t growth = -1;
    try {
      growth = measure_here(model_path, options, isa);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "measuring %s failed: %s\n", model_path.c_str(), e.what());
    }
    (void)!write(fds[1], &growth, sizeof growth);
    _exit(0);
  }
  close(fds[1]);
  int64_t growth = -1;
  if (read(fds[0], &growth, sizeof growth) != ssize_t(sizeof growth)) growth = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return growth;
}

}  // namespace hearth::plan

namespace hearth::plan {

int64_t measure_device_allocation(const std::string& model_path, const PlanOptions& options,
                                  const std::function<std::unique_ptr<backend::DeviceBackend>()>& make_device) {
  auto file = std::make_shared<const gguf::File>(gguf::File::open(model_path));
  auto model = model::Model::load(file);
  auto dev = make_device();
  const uint64_t before = dev->counters().allocated_bytes;
  int64_t peak = -1;
  fill_context(*model, *dev, options, [&] { peak = int64_t(dev->counters().peak_allocated_bytes - before); });
  return peak;
}

}  // namespace hearth::plan

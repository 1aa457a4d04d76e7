// `hearth bench MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--ctk T]
// [--ctv T] [--fa on|off] [-d DEPTH] [--json]`, in the manner of llama-bench:
// prompt processing (ppN) and generation (tgN) speed as mean +- sd over the
// repetitions after a warm-up, decode GB/s, and that as a share of the
// memory read bandwidth hearth measures on this machine (`--memory` alone).
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/kv_memory.h"
#include "runtime/memory_bandwidth.h"

namespace hearth::cli {
namespace {

struct BenchOptions {
  std::string model;
  int n_prompt = 512;
  int n_gen = 128;
  int reps = 5;
  int64_t depth = 0;
  bool json = false;
  bool memory_only = false;
  EngineOptions engine;
};

struct Stats {
  double mean = 0, sd = 0;
};

Stats stats(const std::vector<double>& v) {
  Stats s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(sq / double(v.size() - 1)) : 0.0;
  return s;
}

std::vector<int32_t> random_tokens(int n, int64_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, int32_t(n_vocab - 1));
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = dist(rng);
  return tokens;
}

int resolve_threads(int requested) {
  return requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
}

void bench(const BenchOptions& o) {
  const int threads = resolve_threads(o.engine.n_threads);
  ThreadPool pool(threads);
  const runtime::BandwidthResult bw = runtime::measure_read_bandwidth(pool);
  if (o.memory_only) {
    if (o.json)
      fmt::print("{}\n", nlohmann::json{{"test", "memory_read"}, {"gb_per_s", bw.gb_per_s}, {"threads", threads},
                                        {"bytes", bw.bytes}}.dump());
    else
      fmt::print("memory read bandwidth: {:.2f} GB/s ({} threads, {} MiB buffer, best of {})\n", bw.gb_per_s, threads,
                 bw.bytes >> 20, bw.passes);
    return;
  }
  if (o.model.empty()) fail("bench needs a MODEL (or --memory)");

  EngineOptions engine_options = o.engine;
  engine_options.n_threads = threads;
  if (engine_options.n_ctx == 0) engine_options.n_ctx = o.depth + std::max(o.n_prompt, o.n_gen) + 16;
  LoadedEngine engine = load_engine(o.model, engine_options);
  runtime::Session& session = *engine.session;
  const auto& hp = engine.model->hparams();

  uint64_t model_bytes = 0, weight_read_bytes = 0, n_params = 0;
  for (const auto& t : engine.file->tensors()) {
    model_bytes += t.n_bytes;
    n_params += t.n_elements;
    // Decode reads every weight once a token, except the embedding table
    // (one row), unless it is also the lm head.
    const bool embedding_only = t.name == "token_embd.weight" && engine.file->find_tensor("output.weight");
    if (!embedding_only) weight_read_bytes += t.n_bytes;
  }
  // K and V bytes of one position on all global layers, and on all
  // sliding-window layers (which a token reads only for its window).
  const runtime::KvMemory kv_per_position = runtime::kv_memory(
      *engine.model, 1, 1, *dtype_from_name(engine_options.type_k), *dtype_from_name(engine_options.type_v));

  const std::vector<int32_t> depth_tokens = random_tokens(int(o.depth), hp.n_vocab, 7);
  std::vector<float> logits;
  // The depth is evaluated once and kept between tests (as llama-bench keeps
  // its state): each test drops its own tokens and starts from the depth
  // again, unless a sliding-window ring has lost the window before it.
  auto prefill_depth = [&] {
    if (o.depth > 0 && session.n_past() >= o.depth && session.truncate(o.depth) == o.depth) return;
    session.reset();
    if (o.depth > 0) session.eval(depth_tokens, false, logits);
  };
  using clock = std::chrono::steady_clock;
  nlohmann::json results = nlohmann::json::array();
  const std::string model_name = engine.file->metadata().get_string_or("general.name", o.model);
  if (!o.json) fmt::print(stderr, "{}\n", engine.placement);
  if (!o.json) {
    fmt::print("| model | size | params | backend | threads | test | t/s | decode GB/s | % of {:.1f} GB/s |\n", bw.gb_per_s);
    fmt::print("| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |\n");
  }
  auto report = [&](const std::string& test, const std::vector<double>& tps, double gbps) {
    const Stats s = stats(tps);
    const std::string depth = o.depth > 0 ? fmt::format(" @ d{}", o.depth) : "";
    nlohmann::json row = {{"test", test + (o.depth > 0 ? fmt::format("@d{}", o.depth) : "")},
                          {"avg_ts", s.mean},       {"stddev_ts", s.sd},
                          {"model", model_name},    {"size", model_bytes},
                          {"params", n_params},     {"backend", engine.backend_name()},
                          {"threads", threads},     {"type_k", engine_options.type_k},
                          {"type_v", engine_options.type_v}, {"reps", o.reps},
                          {"memory_gb_per_s", bw.gb_per_s}};
    if (gbps > 0) {
      row["decode_gb_per_s"] = gbps;
      row["bandwidth_pct"] = 100.0 * gbps / bw.gb_per_s;
    }
    results.push_back(row);
    if (!o.json)
      fmt::print("| {} | {:.2f} GiB | {:.2f} B | {} | {} | {}{} | {:.2f} ± {:.2f} | {} | {} |\n", model_name,
                 model_bytes / double(1ull << 30), n_params / 1e9, engine.backend_name(), threads, test, depth, s.mean,
                 s.sd, gbps > 0 ? fmt::format("{:.2f}", gbps) : "", gbps > 0 ? fmt::format("{:.0f}%", 100 * gbps / bw.gb_per_s) : "");
  };

  if (o.n_prompt > 0) {
    const std::vector<int32_t> prompt = random_tokens(o.n_prompt, hp.n_vocab, 11);
    std::vector<double> tps;
    for (int rep = -1; rep < o.reps; ++rep) {  // rep -1 is the warm-up
      prefill_depth();
      const auto start = clock::now();
      session.eval(prompt, false, logits);
      const double seconds = std::chrono::duration<double>(clock::now() - start).count();
      if (rep >= 0) tps.push_back(o.n_prompt / seconds);
    }
    report(fmt::format("pp{}", o.n_prompt), tps, 0);
  }
  if (o.n_gen > 0) {
    const std::vector<int32_t> tokens = random_tokens(o.n_gen, hp.n_vocab, 13);
    std::vector<double> tps;
    for (int rep = -1; rep < o.reps; ++rep) {
      prefill_depth();
      const auto start = clock::now();
      for (int32_t t : tokens) session.decode(t);
      const double seconds = std::chrono::duration<double>(clock::now() - start).count();
      if (rep >= 0) tps.push_back(o.n_gen / seconds);
    }
    const double mean_context = double(o.depth) + (o.n_gen + 1) / 2.0;
    const double window_context = hp.sliding_window > 0 ? std::min<double>(mean_context, hp.sliding_window) : mean_context;
    const double bytes_per_token = double(weight_read_bytes) + mean_context * double(kv_per_position.global_bytes) +
                                   window_context * double(kv_per_position.sliding_bytes);
    report(fmt::format("tg{}", o.n_gen), tps, stats(tps).mean * bytes_per_token / 1e9);
  }
  if (o.json) fmt::print("{}\n", results.dump(2));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench style)");
  cmd->add_option("model", o->model, "GGUF model file");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens to process (0: skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", o->n_gen, "Tokens to generate (0: skip)")->capture_default_str();
  cmd->add_option("-r,--reps", o->reps, "Repetitions after one warm-up")->capture_default_str();
  cmd->add_option("-d,--depth", o->depth, "Tokens already in the context before each test")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print JSON: [{\"test\": \"pp512\", \"avg_ts\": ..., \"stddev_ts\": ...}, ...]");
  cmd->add_flag("--memory", o->memory_only, "Only measure the memory read bandwidth");
  add_engine_options(cmd, o->engine);
  cmd->callback([o] {
    if (o->reps < 1) fail("--reps must be at least 1");
    bench(*o);
  });
}

}  // namespace hearth::cli

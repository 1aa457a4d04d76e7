// CPU attention at depth, one backend thread: a decode step (one token, the
// Llama-3.2-1B head shape: 32 query heads over 8 KV heads of 64) and a
// prompt tile (16 tokens), over n_kv keys of an f16, q8_0 or q4_0 cache,
// fused (flash) and unfused. Eight caches are used in turn, so that, as in a
// model's layers, each step reads its keys from memory rather than from a
// cache the previous step warmed. Reported: keys/s per query head and the
// K+V bytes read per second.
//   build/bin/bench_attention --benchmark_filter='decode/avx512/f16'
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "bench_random.h"

namespace {

using hearth::DType;

constexpr int kHeads = 32, kKvHeads = 8, kHeadDim = 64, kCaches = 8;

struct Cache {
  std::vector<uint8_t> k, v;
};

using hearth::bench::random_floats;

std::vector<uint8_t> quantized_rows(DType type, int64_t rows, int64_t width, uint32_t seed) {
  const size_t row = hearth::row_bytes(type, width);
  std::vector<uint8_t> out(row * size_t(rows));
  const auto values = random_floats(width * 64, seed);  // 64 distinct rows, repeated
  for (int64_t r = 0; r < rows; ++r)
    hearth::ref::quantize_row(type, values.data() + (r % 64) * width, out.data() + size_t(r) * row, width);
  return out;
}

void BM_Attention(benchmark::State& state, std::string isa, DType kv_type, bool flash, int n_tokens) {
  const int64_t n_kv = state.range(0);
  std::unique_ptr<hearth::backend::Backend> backend;
  try {
    backend = hearth::backend::make_cpu_backend(1, isa);
  } catch (...) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  backend->reserve(n_tokens, kHeads * kHeadDim, n_kv, kHeadDim);
  const int64_t width = int64_t(kKvHeads) * kHeadDim;
  std::vector<Cache> caches(kCaches);
  for (int c = 0; c < kCaches; ++c)
    caches[size_t(c)] = {quantized_rows(kv_type, n_kv, width, 10 + c), quantized_rows(kv_type, n_kv, width, 20 + c)};
  const auto q = random_floats(int64_t(n_tokens) * kHeads * kHeadDim, 3);
  std::vector<float> out(q.size());
  std::vector<int32_t> positions(static_cast<size_t>(n_tokens));
  for (int t = 0; t < n_tokens; ++t) positions[size_t(t)] = int32_t(n_kv - n_tokens + t);
  hearth::backend::AttentionParams p;
  p.q = q.data();
  p.positions = positions.data();
  p.n_tokens = n_tokens;
  p.n_kv = n_kv;
  p.n_head = kHeads;
  p.n_head_kv = kKvHeads;
  p.head_dim = kHeadDim;
  p.scale = 0.125f;
  p.flash = flash;
  p.out = out.data();
  const size_t row = hearth::row_bytes(kv_type, width);
  int c = 0;
  for (auto _ : state) {
    p.k = {kv_type, caches[size_t(c)].k.data(), row};
    p.v = {kv_type, caches[size_t(c)].v.data(), row};
    backend->attention(p);
    benchmark::DoNotOptimize(out.data());
    c = (c + 1) % kCaches;
  }
  state.counters["keys/s"] =
      benchmark::Counter(double(state.iterations()) * double(n_kv) * kHeads * n_tokens, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(2 * row) * n_kv);
}

int register_all() {
  for (const std::string isa : {"avx2", "avx512"})
    for (DType t : {DType::F16, DType::Q8_0, DType::Q4_0})
      for (bool flash : {true, false}) {
        if (!flash && t != DType::F16) continue;  // a quantized V needs the fused path
        const std::string name = isa + "/" + std::string(hearth::dtype_name(t)) + (flash ? "/fa" : "/unfused");
        benchmark::RegisterBenchmark(("decode/" + name).c_str(), BM_Attention, isa, t, flash, 1)
            ->Arg(4096)->Arg(16384)->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("tile16/" + name).c_str(), BM_Attention, isa, t, flash, 16)
            ->Arg(4096)->Unit(benchmark::kMicrosecond);
      }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();

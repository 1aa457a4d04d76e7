// Quantized dot-product kernels per ISA and weight type: a 4096-wide GEMV
// over 512 rows (weights sized to stay in L2 for the small types, so this
// measures the kernels rather than DRAM), single-row and 4-row kernels, and
// activation quantization. Reported: weight bytes/s and rows/s.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_blocks.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "bench_random.h"

namespace {

using hearth::DType;

constexpr int64_t kN = 4096;
constexpr int kRows = 512;

using hearth::bench::random_floats;

struct Problem {
  std::vector<uint8_t> weights;  // kRows rows
  std::vector<uint8_t> act;
  size_t row_size;
};

Problem make_problem(DType type) {
  Problem p;
  p.row_size = hearth::row_bytes(type, kN);
  p.weights.resize(p.row_size * kRows);
  const auto w = random_floats(kN, 1);
  // IQ1_S, IQ2_XXS and IQ2_XS quantize only with an importance matrix: a flat one.
  const std::vector<float> importance(kN, 1.0f);
  for (int r = 0; r < kRows; ++r)
    hearth::ref::quantize_row_weighted(type, w.data(), p.weights.data() + r * p.row_size, kN, importance.data());
  const DType act_type = hearth::ref::vec_dot_type(type);
  p.act.resize(hearth::row_bytes(act_type, kN));
  const auto a = random_floats(kN, 2);
  hearth::ref::quantize_activation(act_type, a.data(), p.act.data(), kN);
  return p;
}

// The kernels of `isa`, or none (and the benchmark marked skipped) when this
// CPU lacks it.
std::optional<hearth::cpu::Kernels> kernels_or_skip(benchmark::State& state, const std::string& isa) {
  try {
    return hearth::cpu::select_kernels_for(isa);
  } catch (...) {
    state.SkipWithError("ISA not available on this CPU");
    return std::nullopt;
  }
}

void BM_VecDot(benchmark::State& state, std::string isa, DType type, bool multi_row) {
  const auto kernels = kernels_or_skip(state, isa);
  if (!kernels) return;
  const hearth::cpu::Kernels& k = *kernels;
  const Problem p = make_problem(type);
  std::vector<float> out(kRows);
  for (auto _ : state) {
    if (multi_row) {
      for (int r = 0; r < kRows; r += 4) {
        k.vec_dot_rows_for(type)(kN, 4, p.weights.data() + r * p.row_size, p.row_size, p.act.data(), out.data() + r);
      }
    } else {
      for (int r = 0; r < kRows; ++r) out[r] = k.vec_dot_for(type)(kN, p.weights.data() + r * p.row_size, p.act.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(p.weights.size()));
  state.counters["rows/s"] = benchmark::Counter(double(state.iterations()) * kRows, benchmark::Counter::kIsRate);
}

// A batch of 8 activation rows against the 512 weight rows: the tile kernel
// (weights unpacked once per 4 activations) versus vec_dot_rows per activation.
void BM_Batch8(benchmark::State& state, std::string isa, DType type, bool tile) {
  const auto kernels = kernels_or_skip(state, isa);
  if (!kernels) return;
  const hearth::cpu::Kernels& k = *kernels;
  const Problem p = make_problem(type);
  constexpr int kActs = 8;
  std::vector<uint8_t> acts;
  for (int c = 0; c < kActs; ++c) acts.insert(acts.end(), p.act.begin(), p.act.end());
  std::vector<float> out(size_t(kRows) * kActs);
  for (auto _ : state) {
    for (int r = 0; r < kRows; r += 4) {
      const uint8_t* rows = p.weights.data() + r * p.row_size;
      if (tile) {
        k.vec_dot_tile_for(type)(kN, 4, rows, p.row_size, kActs, acts.data(), p.act.size(), out.data() + r, kRows);
      } else {
        for (int c = 0; c < kActs; ++c) {
          k.vec_dot_rows_for(type)(kN, 4, rows, p.row_size, acts.data() + c * p.act.size(), out.data() + c * kRows + r);
        }
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["dots/s"] = benchmark::Counter(double(state.iterations()) * kRows * kActs, benchmark::Counter::kIsRate);
}

// The packed kernels (weights in groups of 8 rows, packed_blocks.h): one
// activation row (decode) or 8 (a batch), against the same 512 rows.
// With `pair`, the 16-row kernel on two groups at a time (the prompt path on
// ISAs that have one), as the matmul driver runs a 64-row activation chunk.
void BM_Packed(benchmark::State& state, std::string isa, DType type, int n_acts, bool pair) {
  const auto kernels = kernels_or_skip(state, isa);
  if (!kernels) return;
  const hearth::cpu::Kernels& k = *kernels;
  const auto gemm = pair ? k.packed_gemm_pair_for(type) : k.packed_gemm_for(type);
  if (gemm == nullptr) {
    state.SkipWithError("no packed kernel for this type and ISA");
    return;
  }
  const Problem p = make_problem(type);
  const size_t group_bytes = hearth::cpu::packed_group_bytes(type, kN);
  std::vector<uint8_t> packed(group_bytes * (kRows / 8));
  for (int g = 0; g < kRows / 8; ++g)
    hearth::cpu::pack_rows_x8(type, p.weights.data() + size_t(g) * 8 * p.row_size, p.row_size, kN,
                              packed.data() + g * group_bytes);
  std::vector<uint8_t> acts;
  for (int c = 0; c < n_acts; ++c) acts.insert(acts.end(), p.act.begin(), p.act.end());
  std::vector<int32_t> sums(size_t(n_acts) * 3 * (kN / 32), 0);
  if (hearth::cpu::packed_reads_act_sums(type, pair))
    hearth::cpu::pack_act_sums(type, acts.data(), p.act.size(), n_acts, kN / 32, sums.data());
  std::vector<float> out(size_t(kRows) * n_acts);
  for (auto _ : state) {
    for (int g = 0; g < kRows / 8; g += pair ? 2 : 1)
      gemm(kN, packed.data() + g * group_bytes, n_acts, acts.data(), p.act.size(), sums.data(), 3 * kN / 32,
           out.data() + 8 * g, kRows);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(p.weights.size()));
  state.counters["dots/s"] = benchmark::Counter(double(state.iterations()) * kRows * n_acts, benchmark::Counter::kIsRate);
}

void BM_QuantizeAct(benchmark::State& state, std::string isa, DType act_type) {
  const auto kernels = kernels_or_skip(state, isa);
  if (!kernels) return;
  const hearth::cpu::Kernels& k = *kernels;
  const auto x = random_floats(kN, 3);
  std::vector<uint8_t> out(hearth::row_bytes(act_type, kN));
  for (auto _ : state) {
    k.quantize_act_for(act_type)(x.data(), out.data(), kN);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kN * int64_t(sizeof(float)));
}

int register_all() {
  const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                         DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                         DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS,
                         DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S, DType::IQ3_XXS, DType::IQ3_S,
                         DType::IQ1_S, DType::IQ1_M, DType::TQ1_0, DType::TQ2_0, DType::MXFP4};
  for (const std::string isa : {"scalar", "avx2", "avx512"}) {
    for (DType t : types) {
      const std::string name(hearth::dtype_name(t));
      benchmark::RegisterBenchmark(("vec_dot/" + isa + "/" + name).c_str(), BM_VecDot, isa, t, false);
      benchmark::RegisterBenchmark(("vec_dot_rows4/" + isa + "/" + name).c_str(), BM_VecDot, isa, t, true);
      benchmark::RegisterBenchmark(("batch8_rows/" + isa + "/" + name).c_str(), BM_Batch8, isa, t, false);
      benchmark::RegisterBenchmark(("batch8_tile/" + isa + "/" + name).c_str(), BM_Batch8, isa, t, true);
      if (hearth::cpu::has_packed_layout(t)) {
        benchmark::RegisterBenchmark(("packed_gemv/" + isa + "/" + name).c_str(), BM_Packed, isa, t, 1, false);
        benchmark::RegisterBenchmark(("packed_batch8/" + isa + "/" + name).c_str(), BM_Packed, isa, t, 8, false);
        benchmark::RegisterBenchmark(("packed_batch64/" + isa + "/" + name).c_str(), BM_Packed, isa, t, 64, false);
        benchmark::RegisterBenchmark(("packed_pair_batch64/" + isa + "/" + name).c_str(), BM_Packed, isa, t, 64,
                                     true);
      }
    }
    for (DType a : {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16, DType::BF16}) {
      benchmark::RegisterBenchmark(("quantize_act/" + isa + "/" + std::string(hearth::dtype_name(a))).c_str(),
                                   BM_QuantizeAct, isa, a);
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();

// Op parity: every kernel of every ISA this CPU runs (scalar, avx2, avx512)
// against the reference kernels (which ref_quants_test checks against
// llama.cpp), on random data from fixed seeds and odd block counts; plus the
// selected kernels against quants.gguf directly.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_blocks.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "core/error.h"
#include "quant_fixture.h"
#include "random_blocks.h"

namespace hearth {
namespace {

const std::vector<DType> kWeightTypes = {
    DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
    DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
    DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S,
    DType::IQ3_XXS, DType::IQ3_S, DType::IQ1_S, DType::IQ1_M, DType::TQ1_0, DType::TQ2_0, DType::MXFP4};
const std::vector<DType> kActTypes = {DType::Q8_0, DType::Q8_1, DType::Q8_K,
                                      DType::F16,  DType::BF16, DType::F32};
const std::vector<int64_t> kBlockCounts = {1, 3, 7, 33};

// The ISAs this CPU can run.
std::vector<std::string> runnable_isas() {
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  std::vector<std::string> out = {"scalar"};
  if (f.has_avx2_set()) out.push_back("avx2");
  if (f.has_avx512_set()) out.push_back("avx512");
  return out;
}

// Gaussian values with a per-block scale spread over 1e-3..1e2 and a few
// outliers, like real weights and activations.
std::vector<float> random_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(n));
  float scale = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::pow(10.0f, uniform(rng) * 5.0f - 3.0f);
    float v = normal(rng) * scale;
    if (uniform(rng) < 0.02f) v *= 20.0f;
    row[size_t(i)] = v;
  }
  return row;
}

std::vector<uint8_t> quantized(DType type, const std::vector<float>& row) {
  return test::quantize_or_random(type, row.data(), int64_t(row.size()), uint32_t(row.size() * 7 + 3) ^ std::bit_cast<uint32_t>(row[0]));
}

std::vector<uint8_t> act_quantized(DType act_type, const std::vector<float>& row) {
  std::vector<uint8_t> out(row_bytes(act_type, row.size()));
  ref::quantize_activation(act_type, row.data(), out.data(), int64_t(row.size()));
  return out;
}

// sum |w_i * a_i| of the dequantized operands: the scale of float rounding.
double magnitude(DType weight_type, const std::vector<uint8_t>& w, DType act_type,
                 const std::vector<uint8_t>& a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  ref::dequantize_row(weight_type, w.data(), wf.data(), n);
  ref::dequantize_row(act_type, a.data(), af.data(), n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(double(wf[i]) * af[i]);
  return sum;
}

// Integer block sums are exact in every kernel; only float accumulation
// order differs (a few ulps per block / per 8-lane partial sum).
constexpr double kRelTolerance = 1e-5;

class CpuKernels : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuKernels, TableIsComplete) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  for (DType type : kWeightTypes) {
    EXPECT_NE(k.vec_dot_for(type), nullptr) << dtype_name(type);
    EXPECT_NE(k.vec_dot_rows_for(type), nullptr) << dtype_name(type);
    EXPECT_NE(k.vec_dot_tile_for(type), nullptr) << dtype_name(type);
    EXPECT_NE(k.dequantize_for(type), nullptr) << dtype_name(type);
    EXPECT_EQ(k.vec_dot_type(type), ref::vec_dot_type(type)) << dtype_name(type);
  }
  for (DType act : kActTypes) EXPECT_NE(k.quantize_act_for(act), nullptr) << dtype_name(act);
}

TEST_P(CpuKernels, VecDotMatchesReference) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  uint32_t seed = 100;
  for (DType type : kWeightTypes) {
    const DType act_type = ref::vec_dot_type(type);
    const int64_t block = std::max<int64_t>(dtype_info(type).block_size, dtype_info(act_type).block_size);
    for (int64_t blocks : kBlockCounts) {
      // Float types have block size 1: use 32-element units with an odd tail.
      const int64_t n = dtype_info(type).block_size == 1 ? blocks * 32 + 5 : blocks * block;
      const auto w = quantized(type, random_row(n, ++seed));
      const auto a = act_quantized(act_type, random_row(n, ++seed));
      const float want = ref::vec_dot(type, n, w.data(), a.data());
      const float got = k.vec_dot_for(type)(n, w.data(), a.data());
      const double tol = kRelTolerance * magnitude(type, w, act_type, a, n) + 1e-30;
      EXPECT_NEAR(got, want, tol) << dtype_name(type) << " n=" << n;
    }
  }
}

TEST_P(CpuKernels, VecDotRowsMatchesReference) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  uint32_t seed = 500;
  for (DType type : kWeightTypes) {
    const DType act_type = ref::vec_dot_type(type);
    const int64_t n = dtype_info(type).block_size == 1 ? 7 * 32 + 3 : 3 * int64_t(dtype_info(type).block_size) * (dtype_info(act_type).block_size == 256 && dtype_info(type).block_size == 32 ? 8 : 1);
    const auto a = act_quantized(act_type, random_row(n, ++seed));
    for (int n_rows = 1; n_rows <= 7; ++n_rows) {
      // Rows padded apart (stride > row size) to check the stride is honoured.
      const size_t row_size = row_bytes(type, uint64_t(n)), stride = row_size + 64;
      std::vector<uint8_t> rows(stride * size_t(n_rows), 0xCD);
      std::vector<std::vector<uint8_t>> each;
      for (int r = 0; r < n_rows; ++r) {
        each.push_back(quantized(type, random_row(n, ++seed)));
        std::memcpy(rows.data() + size_t(r) * stride, each.back().data(), row_size);
      }
      std::vector<float> out(size_t(n_rows) + 1, -7.0f);
      k.vec_dot_rows_for(type)(n, n_rows, rows.data(), stride, a.data(), out.data());
      EXPECT_EQ(out[size_t(n_rows)], -7.0f) << "wrote past n_rows";
      for (int r = 0; r < n_rows; ++r) {
        const float want = ref::vec_dot(type, n, each[size_t(r)].data(), a.data());
        const double tol = kRelTolerance * magnitude(type, each[size_t(r)], act_type, a, n) + 1e-30;
        EXPECT_NEAR(out[size_t(r)], want, tol) << dtype_name(type) << " rows=" << n_rows << " r=" << r;
      }
    }
  }
}

TEST_P(CpuKernels, VecDotTileMatchesReference) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  uint32_t seed = 700;
  for (DType type : kWeightTypes) {
    const DType act_type = ref::vec_dot_type(type);
    const int64_t unit = std::max<int64_t>(dtype_info(type).block_size, dtype_info(act_type).block_size);
    const int64_t n = dtype_info(type).block_size == 1 ? 5 * 32 + 9 : 3 * unit;
    const size_t row_size = row_bytes(type, uint64_t(n)), row_stride = row_size + 32;
    const size_t act_size = row_bytes(act_type, uint64_t(n)), act_stride = act_size + 96;
    constexpr int kRowsMax = 5, kActsMax = 9;
    std::vector<std::vector<uint8_t>> w, a;
    std::vector<uint8_t> rows(row_stride * kRowsMax), acts(act_stride * kActsMax);
    for (int r = 0; r < kRowsMax; ++r) {
      w.push_back(quantized(type, random_row(n, ++seed)));
      std::memcpy(rows.data() + r * row_stride, w.back().data(), row_size);
    }
    for (int c = 0; c < kActsMax; ++c) {
      a.push_back(act_quantized(act_type, random_row(n, ++seed)));
      std::memcpy(acts.data() + c * act_stride, a.back().data(), act_size);
    }
    for (int n_rows : {1, 3, 4, 5}) {
      for (int n_acts : {1, 2, 4, 5, 9}) {
        const size_t out_stride = kRowsMax + 2;
        std::vector<float> out(out_stride * kActsMax, -7.0f);
        k.vec_dot_tile_for(type)(n, n_rows, rows.data(), row_stride, n_acts, acts.data(), act_stride,
                                 out.data(), out_stride);
        for (int c = 0; c < kActsMax; ++c) {
          for (size_t r = 0; r < out_stride; ++r) {
            const float got = out[c * out_stride + r];
            if (c >= n_acts || int(r) >= n_rows) {
              EXPECT_EQ(got, -7.0f) << "tile wrote outside its " << n_rows << "x" << n_acts;
              continue;
            }
            const float want = ref::vec_dot(type, n, w[r].data(), a[c].data());
            const double tol = kRelTolerance * magnitude(type, w[r], act_type, a[c], n) + 1e-30;
            EXPECT_NEAR(got, want, tol) << dtype_name(type) << " tile " << n_rows << "x" << n_acts
                                        << " r=" << r << " a=" << c;
          }
        }
      }
    }
  }
}

// Rows whose products hit exact halfway cases (x * 127/amax = k + 0.5) and
// zero blocks, where rounding and the zero-scale paths are decided.
std::vector<float> rounding_edge_row(int64_t n) {
  std::vector<float> row(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t block = i / 32;
    if (block % 4 == 3) {
      row[size_t(i)] = 0.0f;  // all-zero block
    } else if (i % 32 == 0) {
      row[size_t(i)] = (block % 2 ? -127.0f : 127.0f);  // amax 127: multiplier exactly 1
    } else {
      row[size_t(i)] = float((i * 37) % 250 - 125) + 0.5f;  // exact halves
    }
  }
  return row;
}

TEST_P(CpuKernels, ActivationQuantizationIsBitExact) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  uint32_t seed = 900;
  for (DType act : kActTypes) {
    const int64_t block = dtype_info(act).block_size;
    for (int64_t blocks : kBlockCounts) {
      const int64_t n = block == 1 ? blocks * 32 + 7 : blocks * std::max<int64_t>(block, 32);
      for (const auto& row : {random_row(n, ++seed), rounding_edge_row(n)}) {
        const auto want = act_quantized(act, row);
        std::vector<uint8_t> got(want.size(), 0xEE);
        k.quantize_act_for(act)(row.data(), got.data(), n);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0)
            << dtype_name(act) << " n=" << n;
      }
    }
  }
}

TEST_P(CpuKernels, DequantizeIsBitExact) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  uint32_t seed = 1300;
  for (DType type : kWeightTypes) {
    const int64_t n = 7 * int64_t(std::max<uint32_t>(dtype_info(type).block_size, 32)) + (dtype_info(type).block_size == 1 ? 3 : 0);
    const auto w = quantized(type, random_row(n, ++seed));
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.0f);
    ref::dequantize_row(type, w.data(), want.data(), n);
    k.dequantize_for(type)(w.data(), got.data(), n);
    EXPECT_EQ(std::memcmp(got.data(), want.data(), size_t(n) * sizeof(float)), 0) << dtype_name(type);
  }
}

// The kernels each ISA would run in production, straight against llama.cpp.
void expect_kernels_match_fixture(const test::QuantFixture& f, const std::string& isa) {
  ASSERT_TRUE(f.available());
  const cpu::Kernels k = cpu::select_kernels_for(isa);
  const auto act = f.floats("act");
  const int64_t n = f.n_per_row();
  for (const std::string& name : f.types()) {
    const DType type = test::parse_type(name);
    const DType act_type = k.vec_dot_type(type);
    const gguf::TensorInfo& want_act = f.tensor("act_q." + name);
    std::vector<uint8_t> act_q(want_act.n_bytes);
    k.quantize_act_for(act_type)(act.data(), act_q.data(), n);
    EXPECT_EQ(std::memcmp(act_q.data(), want_act.data, act_q.size()), 0) << name;
    const auto weights = f.bytes("q." + name);
    const auto deq = f.floats("deq." + name);
    const auto want = f.floats("vecdot." + name);
    const size_t row_size = row_bytes(type, uint64_t(n));
    double worst_abs = 0, worst_rel = 0;
    for (int64_t r = 0; r < f.n_rows(); ++r) {
      const float got = k.vec_dot_for(type)(n, weights.data() + size_t(r) * row_size, act_q.data());
      const double mag = test::dot_rounding_scale(type, deq.data() + r * n, act.data(), n);
      EXPECT_NEAR(got, want[size_t(r)], 1e-6 * mag + 1e-30) << name << " row " << r;
      const double diff = std::fabs(double(got) - want[size_t(r)]);
      worst_abs = std::max(worst_abs, diff);
      if (want[size_t(r)] != 0) worst_rel = std::max(worst_rel, diff / std::fabs(want[size_t(r)]));
    }
    std::printf("[%s vec_dot %-6s] max |diff| %.3g, max |diff|/|want| %.3g\n", isa.c_str(),
                name.c_str(), worst_abs, worst_rel);
  }
}

// The unfused attention softmax against exp in double: every length's tail,
// a sink, scores far enough below the maximum to underflow, and the f16
// rounding of the probabilities.
TEST_P(CpuKernels, SoftmaxMatchesDoubleExp) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> score(-30.0f, 12.0f);
  for (int64_t n : {1, 5, 8, 13, 16, 37, 512}) {
    for (bool with_sink : {false, true}) {
      for (bool round : {false, true}) {
        std::vector<float> x(static_cast<size_t>(n));
        for (auto& v : x) v = score(rng);
        if (n > 3) x[2] = -150.0f;  // exp underflows to (about) zero
        const float sink = 3.5f;
        // exp of the float difference to the maximum, as ggml takes it.
        float max_score = with_sink ? sink : -INFINITY;
        for (float v : x) max_score = std::max(max_score, v);
        double total = with_sink ? std::exp(double(sink - max_score)) : 0.0;
        for (float v : x) total += std::exp(double(v - max_score));
        std::vector<float> y = x;
        k.softmax(y.data(), n, with_sink ? &sink : nullptr, round);
        for (int64_t j = 0; j < n; ++j) {
          const double expected = std::exp(double(x[size_t(j)] - max_score)) / total;
          // f16: half an ulp of a normal half, or of the subnormal step 2^-24.
          const double tol = round ? expected / 1024 + 6e-8 : 2e-6 * expected + 1e-30;
          ASSERT_NEAR(y[size_t(j)], expected, tol) << GetParam() << " n " << n << " at " << j << " sink " << with_sink
                                                   << " round " << round;
        }
      }
    }
  }
}

// Attention's blocked kernels: a key block transposed and dotted with up to
// kMaxDotQueries queries, and acc += sum_j p[j] v[j] for as many, against double sums,
// for widths with and without 8- and 16-float tails and short blocks; each
// score bitwise the same for a query alone as among others, and for a key
// in a short block as in a full one.
TEST_P(CpuKernels, AttentionBlockKernelsMatchDoubleAndAreInvariant) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  constexpr int kBlock = cpu::Kernels::kScoreBlock, kQ = cpu::Kernels::kMaxDotQueries;
  for (int64_t n : {5, 8, 24, 64, 72, 128}) {
    for (int64_t rows : {int64_t(kBlock), int64_t(11)}) {
      const auto keys = random_row(n * rows, 50 + uint32_t(n));
      std::vector<std::vector<float>> qs;
      const float* q[kQ];
      for (int i = 0; i < kQ; ++i) {
        qs.push_back(random_row(n, 40 + uint32_t(n) + uint32_t(i)));
        q[i] = qs.back().data();
      }
      std::vector<float> kt(size_t(n * kBlock), -1.0f), scores(size_t(kQ * kBlock));
      k.transpose_block(n, keys.data(), rows, kt.data());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < kBlock; ++j)
          ASSERT_EQ(kt[size_t(i * kBlock + j)], j < rows ? keys[size_t(j * n + i)] : 0.0f) << GetParam() << " n " << n;
      k.dot_columns(n, q, kQ, kt.data(), scores.data());
      for (int qi = 0; qi < kQ; ++qi) {
        float alone[kBlock];
        k.dot_columns(n, q + qi, 1, kt.data(), alone);
        for (int64_t j = 0; j < rows; ++j) {
          double dot = 0, magnitude = 0;
          for (int64_t i = 0; i < n; ++i) {
            dot += double(q[qi][i]) * keys[size_t(j * n + i)];
            magnitude += std::fabs(double(q[qi][i]) * keys[size_t(j * n + i)]);
          }
          const float got = scores[size_t(qi * kBlock + j)];
          EXPECT_NEAR(got, dot, 1e-6 * magnitude + 1e-30) << GetParam() << " n " << n << " key " << j;
          EXPECT_EQ(alone[j], got) << GetParam() << " n " << n << " key " << j << " query alone";
        }
      }
      if (rows < kBlock) {  // the same keys as the first rows of a full block
        std::vector<float> full_keys(size_t(n * kBlock), 0.25f), full_kt(size_t(n * kBlock)), full(kBlock);
        std::copy(keys.begin(), keys.end(), full_keys.begin());
        k.transpose_block(n, full_keys.data(), kBlock, full_kt.data());
        k.dot_columns(n, q, 1, full_kt.data(), full.data());
        for (int64_t j = 0; j < rows; ++j)
          EXPECT_EQ(full[size_t(j)], scores[size_t(j)]) << GetParam() << " n " << n << " key " << j << " short block";
      }
    }
    const int64_t rows = 11;
    const auto v = random_row(n * rows, 70);
    std::vector<std::vector<float>> ps, accs;
    const float* p[kQ];
    float* acc[kQ];
    for (int qi = 0; qi < kQ; ++qi) {
      ps.push_back(random_row(rows, 60 + uint32_t(qi)));
      accs.emplace_back(static_cast<size_t>(n), 0.5f);
    }
    for (int qi = 0; qi < kQ; ++qi) p[qi] = ps[size_t(qi)].data(), acc[qi] = accs[size_t(qi)].data();
    k.weighted_rows(n, p, kQ, v.data(), rows, acc);
    for (int qi = 0; qi < kQ; ++qi) {
      std::vector<float> alone(static_cast<size_t>(n), 0.5f);
      float* alone_acc = alone.data();
      k.weighted_rows(n, p + qi, 1, v.data(), rows, &alone_acc);
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0.5, magnitude = 0.5;
        for (int64_t j = 0; j < rows; ++j) {
          sum += double(p[qi][j]) * v[size_t(j * n + i)];
          magnitude += std::fabs(double(p[qi][j]) * v[size_t(j * n + i)]);
        }
        EXPECT_NEAR(acc[qi][i], sum, 1e-6 * magnitude) << GetParam() << " n " << n << " column " << i;
        EXPECT_EQ(alone[size_t(i)], acc[qi][i]) << GetParam() << " n " << n << " column " << i << " query alone";
      }
    }
  }
}

// The flash path's block kernels against double math: every block length
// (tails of 8-wide registers), masks at either end or covering all but one
// key, a softcap, and the online softmax's running maximum and sum over a
// run of blocks (which must end at the whole row's softmax).
TEST_P(CpuKernels, ScoreAndSoftmaxBlocksMatchDouble) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  constexpr int kBlock = cpu::Kernels::kScoreBlock;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dot(-40.0f, 40.0f);
  for (int n : {1, 3, 8, 13, 17, 31, 32}) {
    for (float softcap : {0.0f, 30.0f}) {
      for (auto [lo, hi] : {std::pair{0, n}, std::pair{n / 3, n}, std::pair{0, n - n / 4}, std::pair{n - 1, n}}) {
        float s[kBlock];
        for (float& v : s) v = dot(rng);
        std::vector<float> raw(s, s + kBlock);
        const float scale = 0.125f;
        k.score_block(s, n, scale, softcap, lo, hi);
        for (int r = 0; r < n; ++r) {
          if (r < lo || r >= hi) {
            EXPECT_EQ(s[r], -INFINITY) << GetParam() << " n " << n << " key " << r << " masked";
            continue;
          }
          double want = double(raw[size_t(r)]) * scale;
          if (softcap != 0.0f) want = softcap * std::tanh(want / softcap);
          EXPECT_NEAR(s[r], want, 1e-6 * std::fabs(want) + 1e-6) << GetParam() << " n " << n << " key " << r;
        }
      }
    }
  }
  // Four blocks of one row, the last short and partly masked.
  const int lengths[] = {32, 32, 32, 19};
  std::vector<float> all;
  float m = -INFINITY, sum = 0.0f;
  double scaled_sum = 0.0;  // the previous sum rescaled, plus this block's exp(s - m)
  for (int b = 0; b < 4; ++b) {
    float s[kBlock];
    for (float& v : s) v = dot(rng) * 0.25f;
    const int n = lengths[b];
    if (b == 3) s[n - 1] = s[n - 2] = -INFINITY;  // keys the query does not see
    all.insert(all.end(), s, s + n);
    const float m_before = m, sum_before = sum;
    const float rescale = k.softmax_block(s, n, &m, &sum);
    float block_max = -INFINITY;
    for (int r = 0; r < n; ++r) block_max = std::max(block_max, all[all.size() - size_t(n) + size_t(r)]);
    EXPECT_EQ(m, std::max(m_before, block_max)) << GetParam() << " block " << b;
    EXPECT_NEAR(rescale, m_before == m ? 1.0 : std::exp(double(m_before) - m), 1e-6) << GetParam() << " block " << b;
    for (int r = 0; r < n; ++r) {
      const double want = std::exp(double(all[all.size() - size_t(n) + size_t(r)]) - m);
      EXPECT_NEAR(s[r], want, 2e-6 * want + 1e-30) << GetParam() << " block " << b << " key " << r;
    }
    scaled_sum = double(sum_before) * rescale;
    for (int r = 0; r < n; ++r) scaled_sum += s[r];
    EXPECT_NEAR(sum, scaled_sum, 1e-5 * scaled_sum) << GetParam() << " block " << b;
  }
  double whole = 0.0, max_all = -INFINITY;
  for (float v : all) max_all = std::max(max_all, double(v));
  for (float v : all) whole += std::exp(double(v) - max_all);
  EXPECT_EQ(double(m), max_all);
  EXPECT_NEAR(sum, whole, 1e-5 * whole) << GetParam() << " the row's softmax denominator";
}

// The 16-row pair kernels (the prompt path) against the 8-row kernel (the
// decode path) on each of their two groups: bitwise equal for every tile
// size, so a token's logits do not depend on its batch, and both near the
// reference. MXFP4 blocks include the E8M0 exponents whose scale is
// subnormal (0, 1) or the first normal one (2).
TEST_P(CpuKernels, PackedPairKernelsEqualEightRowKernelsBitwise) {
  const cpu::Kernels k = cpu::select_kernels_for(GetParam());
  const bool vnni = GetParam() == "avx512" && cpu::detect_cpu_features().avx512vnni;
  constexpr int64_t n = 768;  // 24 blocks of 32, 3 of 256
  constexpr int kRows = 2 * cpu::kPackRows, kActsMax = 13;
  int checked = 0;
  uint32_t seed = 900;
  for (DType type : kWeightTypes) {
    const auto pair = k.packed_gemm_pair_for(type);
    if (pair == nullptr) continue;
    const auto single = k.packed_gemm_for(type);
    ASSERT_NE(single, nullptr) << dtype_name(type);
    ++checked;
    const DType act_type = k.vec_dot_type(type);
    const size_t row_size = row_bytes(type, n), act_size = row_bytes(act_type, n);
    std::vector<std::vector<uint8_t>> w, a;
    std::vector<uint8_t> rows(row_size * kRows), acts(act_size * kActsMax);
    for (int r = 0; r < kRows; ++r) {
      w.push_back(quantized(type, random_row(n, ++seed)));
      if (type == DType::MXFP4) {
        for (int64_t b = r % 3; b < n / kQK_MXFP4; b += 4)
          w.back()[size_t(b) * sizeof(block_mxfp4) + offsetof(block_mxfp4, e)] = uint8_t((r + b) % 3);
      }
      std::memcpy(rows.data() + size_t(r) * row_size, w.back().data(), row_size);
    }
    for (int c = 0; c < kActsMax; ++c) {
      a.push_back(act_quantized(act_type, random_row(n, ++seed)));
      std::memcpy(acts.data() + size_t(c) * act_size, a.back().data(), act_size);
    }
    const size_t group_bytes = cpu::packed_group_bytes(type, n);
    std::vector<uint8_t> packed(2 * group_bytes);
    for (int g = 0; g < 2; ++g)
      cpu::pack_rows_x8(type, rows.data() + size_t(g) * cpu::kPackRows * row_size, row_size, n,
                        packed.data() + size_t(g) * group_bytes);
    const int64_t blocks = n / 32;
    std::vector<int32_t> sums(size_t(kActsMax) * 3 * blocks, 0);
    if (cpu::packed_reads_act_sums(type, true)) cpu::pack_act_sums(type, acts.data(), act_size, kActsMax, blocks, sums.data());
    for (int n_acts : {1, 2, 3, 5, 8, 13}) {
      std::vector<float> got(size_t(n_acts) * kRows, -7.0f), want(size_t(n_acts) * kRows, -7.0f);
      pair(n, packed.data(), n_acts, acts.data(), act_size, sums.data(), size_t(3 * blocks), got.data(), kRows);
      for (int g = 0; g < 2; ++g)
        single(n, packed.data() + size_t(g) * group_bytes, n_acts, acts.data(), act_size, sums.data(),
               size_t(3 * blocks), want.data() + g * cpu::kPackRows, kRows);
      for (int c = 0; c < n_acts; ++c) {
        for (int r = 0; r < kRows; ++r) {
          const float x = got[size_t(c) * kRows + r];
          ASSERT_EQ(std::bit_cast<uint32_t>(x), std::bit_cast<uint32_t>(want[size_t(c) * kRows + r]))
              << dtype_name(type) << " acts " << n_acts << " act " << c << " row " << r << ": " << x << " vs "
              << want[size_t(c) * kRows + r];
          const double tol = kRelTolerance * magnitude(type, w[r], act_type, a[c], n) + 1e-30;
          EXPECT_NEAR(x, ref::vec_dot(type, n, w[r].data(), a[c].data()), tol) << dtype_name(type) << " row " << r;
        }
      }
    }
  }
  // Without VNNI the driver runs the 8-row kernel twice.
  EXPECT_EQ(checked, vnni ? 5 : 0) << "Q4_0, Q8_0, Q4_K, Q6_K and MXFP4 have pair kernels with AVX512-VNNI";
}

TEST_P(CpuKernels, MatchLlamaCppFixture) { expect_kernels_match_fixture(test::QuantFixture::get(), GetParam()); }

TEST_P(CpuKernels, MatchLlamaCppFixtureNewTypes) {
  expect_kernels_match_fixture(test::QuantFixture::get_new_types(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuKernels, ::testing::ValuesIn(runnable_isas()),
                         [](const auto& info) { return info.param; });

TEST(CpuSelection, BestKernelsFollowTheFeatures) {
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  const cpu::Kernels k = cpu::select_kernels(f);
  if (f.has_avx512_set()) {
    EXPECT_EQ(k.isa, f.avx512vnni ? "avx512-vnni" : "avx512");
  } else if (f.has_avx2_set()) {
    EXPECT_EQ(k.isa, "avx2");
  } else {
    EXPECT_EQ(k.isa, "scalar");
  }
  EXPECT_FALSE(f.describe().empty());
  // A CPU without features gets the portable kernels.
  EXPECT_EQ(cpu::select_kernels(cpu::CpuFeatures{}).isa, "scalar");
}

TEST(CpuSelection, RefusesUnknownOrMissingIsa) {
  EXPECT_THROW(cpu::select_kernels_for("sse9"), Error);
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  if (!f.has_avx512_set()) {
    EXPECT_THROW(cpu::select_kernels_for("avx512"), Error);
  }
  if (!f.has_avx2_set()) {
    EXPECT_THROW(cpu::select_kernels_for("avx2"), Error);
  }
}

}  // namespace
}  // namespace hearth

// Every Backend op on the CPU backend (each ISA this CPU has, several
// threads) against the scalar reference backend (one thread, ref kernels),
// on odd sizes. The ref kernels themselves are checked against ggml's
// output in quants_test.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "backend/ref/quants.h"
#include "core/dtype.h"
#include "random_blocks.h"

using namespace hearth;
using namespace hearth::backend;

namespace {

std::vector<std::string> available_isas() {
  std::vector<std::string> isas = {"scalar"};
  const auto f = cpu::detect_cpu_features();
  if (f.has_avx2_set()) isas.push_back("avx2");
  if (f.has_avx512_set()) isas.push_back("avx512");
  return isas;
}

using test::random_floats;
using test::TestWeight;
constexpr auto make_weight = test::make_test_weight;

// Different summation orders (SIMD lanes, threads) move results by float
// rounding only: relative to the magnitude of what was summed.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tolerance, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 1e-6;
  for (float x : b) scale = std::max(scale, double(std::fabs(x)));
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tolerance * scale) << what << " at " << i;
}

// The attention these tests run: heads of hd, scale 1/8, contiguous caches.
AttentionParams attention_params(const float* q, const int32_t* positions, int64_t n_tokens, KvView k, KvView v,
                                 int64_t n_kv, int n_head, int n_head_kv, int hd) {
  AttentionParams p;
  p.q = q;
  p.positions = positions;
  p.n_tokens = n_tokens;
  p.k = k;
  p.v = v;
  p.n_kv = n_kv;
  p.n_head = n_head;
  p.n_head_kv = n_head_kv;
  p.head_dim = hd;
  p.scale = 0.125f;
  return p;
}

class OpsParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ref_ = make_ref_backend();
    cpu_ = make_cpu_backend(3, GetParam());
    for (Backend* be : {ref_.get(), cpu_.get()}) be->reserve(37, 1024, 300, 128);
  }
  std::unique_ptr<Backend> ref_, cpu_;
};

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,  DType::Q5_0,
                              DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,  DType::Q5_K,
                              DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::IQ2_XXS, DType::IQ2_XS,
                              DType::IQ2_S, DType::IQ3_XXS, DType::IQ3_S, DType::IQ1_S, DType::IQ1_M,
                              DType::TQ1_0, DType::TQ2_0, DType::MXFP4};

TEST_P(OpsParity, MatmulEveryWeightTypeOddSizes) {
  for (DType type : kWeightTypes) {
    const int64_t block = dtype_info(type).block_size;
    for (int64_t n_in : {block, 3 * block, int64_t(768)}) {
      if (n_in % block) continue;
      for (int64_t n_out : {int64_t(1), int64_t(7), int64_t(33)})
        for (int64_t rows : {int64_t(1), int64_t(5), int64_t(37)}) {
          const TestWeight w = make_weight(type, n_in, n_out, 1, uint32_t(n_in * 31 + n_out));
          const auto x = random_floats(size_t(rows * n_in), uint32_t(rows + n_in));
          std::vector<float> a(rows * n_out), b(rows * n_out);
          ref_->matmul(w.w, x.data(), rows, a.data());
          cpu_->matmul(w.w, x.data(), rows, b.data());
          expect_close(b, a, 1e-4, fmt::format("{} {}x{} rows {}", dtype_name(type), n_in, n_out, rows));
        }
    }
  }
}

// Weights the backend packs for itself (Backend::pack): the packed kernels
// against the reference, with n_out not a multiple of the 8-row group (the
// tail rows take the unpacked path), and one token against a batch bitwise.
TEST_P(OpsParity, PackedWeightsMatchReference) {
  int packed_types = 0;
  for (DType type : kWeightTypes) {
    const int64_t block = dtype_info(type).block_size;
    for (int64_t n_in : {block, 3 * block, int64_t(768)}) {
      if (n_in % block) continue;
      for (int64_t n_out : {int64_t(8), int64_t(19), int64_t(64)}) {
        TestWeight w = make_weight(type, n_in, n_out, 1, uint32_t(n_in * 17 + n_out));
        const auto buffer = cpu_->pack(w.w);
        if (!buffer) continue;
        if (n_in == block && n_out == 8) ++packed_types;
        Weight packed = w.w;
        packed.packed = buffer.get();
        const int64_t rows = 37;
        const auto x = random_floats(size_t(rows * n_in), uint32_t(rows + n_in));
        std::vector<float> a(rows * n_out), b(rows * n_out), one(n_out);
        ref_->matmul(w.w, x.data(), rows, a.data());
        cpu_->matmul(packed, x.data(), rows, b.data());
        const std::string what = fmt::format("packed {} {}x{}", dtype_name(type), n_in, n_out);
        expect_close(b, a, 1e-4, what);
        for (int64_t r : {int64_t(0), int64_t(5), rows - 1}) {
          cpu_->matmul(packed, x.data() + r * n_in, 1, one.data());
          for (int64_t o = 0; o < n_out; ++o)
            ASSERT_EQ(one[o], b[r * n_out + o]) << what << ": row " << r << " alone differs at " << o;
        }
      }
    }
  }
  if (GetParam() != "scalar") EXPECT_EQ(packed_types, 6) << "Q4_0, Q8_0, Q4_K, Q5_K, Q6_K and MXFP4 have a packed layout";
}

TEST_P(OpsParity, GetRowsRmsNormRopeActivationsHadamard) {
  const TestWeight table = make_weight(DType::Q6_K, 256, 11, 1, 5);
  const std::vector<int32_t> ids = {3, 0, 10, 3};
  std::vector<float> a(4 * 256), b(4 * 256);
  ref_->get_rows(table.w, ids.data(), 4, a.data());
  cpu_->get_rows(table.w, ids.data(), 4, b.data());
  EXPECT_EQ(a, b);

  const auto x = random_floats(5 * 96, 7);
  const auto weight = random_floats(96, 8);
  std::vector<float> na(x.size()), nb(x.size());
  ref_->rms_norm(x.data(), weight.data(), 5, 96, 1e-6f, na.data());
  cpu_->rms_norm(x.data(), weight.data(), 5, 96, 1e-6f, nb.data());
  EXPECT_EQ(na, nb);

  const std::vector<int32_t> positions = {0, 1, 17, 4000, 99};
  const std::vector<float> factors = {1, 1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8};
  for (auto mode : {RopeParams::Mode::Norm, RopeParams::Mode::Neox})
    for (int variant = 0; variant < 3; ++variant) {
      RopeParams p;
      p.mode = mode;
      p.n_dims = 24;  // partial rotary: 24 of 32 dims
      p.freq_base = 500000.0f;
      if (variant == 1) p.freq_factors = factors.data();
      if (variant == 2) {
        p.freq_scale = 0.25f;
        p.ext_factor = 1.0f;
        p.n_ctx_orig = 4096;
      }
      std::vector<float> ra = random_floats(5 * 3 * 32, 9), rb = ra;
      ref_->rope(ra.data(), 5, 3, 32, positions.data(), p);
      cpu_->rope(rb.data(), 5, 3, 32, positions.data(), p);
      EXPECT_EQ(ra, rb) << "variant " << variant;
    }

  for (auto act : {Activation::Silu, Activation::GeluTanh, Activation::SwigluOai}) {
    const auto g = random_floats(3 * 80, 10, 4.0f), u = random_floats(3 * 80, 11);
    std::vector<float> ga(3 * 40), gb(3 * 40);
    ref_->gated_activation(act, g.data(), u.data() + 40, 80, 3, 40, ga.data());
    cpu_->gated_activation(act, g.data(), u.data() + 40, 80, 3, 40, gb.data());
    EXPECT_EQ(ga, gb);
  }

  std::vector<float> ha = random_floats(3 * 128, 12), hb = ha;
  ref_->hadamard(ha.data(), ha.size(), 64);
  cpu_->hadamard(hb.data(), hb.size(), 64);
  EXPECT_EQ(ha, hb);
}

// Attention over every cache type, flash and not, GQA, windows and softcaps.
TEST_P(OpsParity, AttentionEveryCacheType) {
  const int n_head = 4, n_head_kv = 2, hd = 64;
  const int64_t n_kv = 45, n_tokens = 6;
  for (DType cache : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0})
    for (bool flash : {false, true})
      for (int window : {0, 7})
        for (float softcap : {0.0f, 20.0f}) {
          const size_t row = row_bytes(cache, int64_t(n_head_kv) * hd);
          std::vector<uint8_t> k(row * n_kv), v(row * n_kv);
          const auto kf = random_floats(size_t(n_kv) * n_head_kv * hd, 13), vf = random_floats(size_t(n_kv) * n_head_kv * hd, 14);
          ref_->store_kv(kf.data(), n_kv, int64_t(n_head_kv) * hd, KvView{cache, k.data(), row}, 0);
          ref_->store_kv(vf.data(), n_kv, int64_t(n_head_kv) * hd, KvView{cache, v.data(), row}, 0);
          std::vector<uint8_t> k2(row * n_kv);
          cpu_->store_kv(kf.data(), n_kv, int64_t(n_head_kv) * hd, KvView{cache, k2.data(), row}, 0);
          EXPECT_EQ(k, k2) << dtype_name(cache);
          const auto q = random_floats(size_t(n_tokens) * n_head * hd, 15);
          const std::vector<int32_t> positions = {39, 40, 41, 42, 43, 44};
          AttentionParams p = attention_params(q.data(), positions.data(), n_tokens, {cache, k.data(), row},
                                               {cache, v.data(), row}, n_kv, n_head, n_head_kv, hd);
          p.softcap = softcap;
          p.sliding_window = window;
          p.flash = flash;
          std::vector<float> a(n_tokens * n_head * hd), b(a.size());
          p.out = a.data();
          ref_->attention(p);
          p.out = b.data();
          cpu_->attention(p);
          // The unfused path rounds probabilities to f16 for an f16 V cache (as
          // ggml): a last-bit change in a SIMD dot product can flip one such
          // rounding, which moves the output by up to one f16 ulp (2^-10).
          const double tolerance = (!flash && cache == DType::F16) ? 1.0 / 1024 : 1e-5;
          expect_close(b, a, tolerance, fmt::format("{} flash {} window {} softcap {}", dtype_name(cache), flash, window, softcap));
        }
}

// Attention against a textbook softmax(q.k * scale) v in double, on f32 and
// f16 caches (q8_0 and q4_0: invariance only), for queries far enough apart to land in different tiles and key
// blocks; and each token alone gives bitwise what it gives in the batch (a
// token's result must not depend on its tile mates).
// A K and V cache of n_kv rows of n_head_kv heads, from random floats
// (seeds seed, seed + 1), stored by `backend` in `type`.
struct TestCache {
  std::vector<float> kf, vf;
  std::vector<uint8_t> k, v;
  size_t row = 0;
  TestCache(Backend& backend, DType type, int64_t n_kv, int n_head_kv, int hd, uint32_t seed)
      : kf(random_floats(size_t(n_kv) * n_head_kv * hd, seed, 2.0f)),
        vf(random_floats(size_t(n_kv) * n_head_kv * hd, seed + 1)),
        row(row_bytes(type, int64_t(n_head_kv) * hd)) {
    k.resize(row * n_kv);
    v.resize(row * n_kv);
    backend.store_kv(kf.data(), n_kv, int64_t(n_head_kv) * hd, KvView{type, k.data(), row}, 0);
    backend.store_kv(vf.data(), n_kv, int64_t(n_head_kv) * hd, KvView{type, v.data(), row}, 0);
  }
};

// Token t of batch p attended alone equals its row of the batch's output, bit for bit.
void expect_alone_equals_batch(Backend& backend, const AttentionParams& p, int64_t t, const std::vector<float>& out,
                               const std::string& what) {
  const int64_t width = int64_t(p.n_head) * p.head_dim;
  std::vector<float> alone(width);
  AttentionParams one = p;
  one.q = p.q + t * width;
  one.positions = p.positions + t;
  one.n_tokens = 1;
  one.out = alone.data();
  backend.attention(one);
  for (int64_t i = 0; i < width; ++i)
    if (alone[i] != out[t * width + i]) {
      ADD_FAILURE() << what << ": token " << t << " alone differs at " << i;
      return;
    }
}

// The textbook attention of one query head (double sums): keys [first, last]
// of a cache of n_head_kv heads of hd values, kv head kvh, scale 1/sqrt(hd).
std::vector<double> textbook_attention(const float* qh, const std::vector<float>& kf, const std::vector<float>& vf,
                                       int n_head_kv, int kvh, int hd, int64_t first, int64_t last) {
  std::vector<double> w;
  double max_s = -1e300, total = 0.0;
  for (int64_t j = first; j <= last; ++j) {
    double dot = 0.0;
    for (int d = 0; d < hd; ++d) dot += double(qh[d]) * kf[(j * n_head_kv + kvh) * hd + d];
    w.push_back(dot / std::sqrt(double(hd)));
    max_s = std::max(max_s, w.back());
  }
  for (double& x : w) total += (x = std::exp(x - max_s));
  std::vector<double> out(hd, 0.0);
  for (int d = 0; d < hd; ++d)
    for (size_t r = 0; r < w.size(); ++r) out[d] += w[r] / total * vf[((first + int64_t(r)) * n_head_kv + kvh) * hd + d];
  return out;
}

TEST_P(OpsParity, AttentionMatchesTextbookAndIsBatchInvariant) {
  const int n_head = 8, n_head_kv = 2, hd = 64;
  const int64_t n_kv = 150, n_tokens = 20;
  std::vector<int32_t> positions(n_tokens);
  for (int64_t t = 0; t < n_tokens; ++t) positions[t] = int32_t(130 + t);
  positions[3] = 5;  // sees few keys: its tile's key range is not its own
  for (DType cache : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0})
    for (bool flash : {false, true})
      for (int window : {0, 50}) {
        if (dtype_info(cache).quantized && !flash) continue;  // a quantized V needs the fused path
        TestCache c(*cpu_, cache, n_kv, n_head_kv, hd, 21);
        const std::vector<float>& kf = c.kf;
        const std::vector<float>& vf = c.vf;
        const auto q = random_floats(size_t(n_tokens) * n_head * hd, 23, 2.0f);
        AttentionParams p = attention_params(q.data(), positions.data(), n_tokens, {cache, c.k.data(), c.row},
                                             {cache, c.v.data(), c.row}, n_kv, n_head, n_head_kv, hd);
        p.sliding_window = window;
        p.flash = flash;
        std::vector<float> out(size_t(n_tokens) * n_head * hd);
        p.out = out.data();
        cpu_->attention(p);
        const std::string what = fmt::format("{} flash {} window {}", dtype_name(cache), flash, window);
        for (int64_t t = 0; t < n_tokens; ++t) {
          const int64_t first = window > 0 ? std::max<int64_t>(0, positions[t] - window + 1) : 0;
          for (int h = 0; h < n_head; ++h) {
            const int kvh = h / (n_head / n_head_kv);
            const auto expected_head =
                textbook_attention(q.data() + (t * n_head + h) * hd, kf, vf, n_head_kv, kvh, hd, first, positions[t]);
            for (int d = 0; d < hd; ++d) {
              const double expected = expected_head[d];
              // f16 rounds K, V, Q and (unfused) the probabilities. (q8_0 and
              // q4_0 are held to the reference backend in
              // AttentionEveryCacheType; here only to batch invariance.)
              if (dtype_info(cache).quantized) continue;
              const double tol = cache == DType::F32 ? 1e-4 : 2e-2;
              ASSERT_NEAR(out[(t * n_head + h) * hd + d], expected, tol) << what << " token " << t << " head " << h;
            }
          }
          expect_alone_equals_batch(*cpu_, p, t, out, what);
        }
      }
}

// Split-K: a decode step over one KV head is one work item, so the fused
// path splits its keys over the threads (stripes of 256-key chunks) and
// merges them. The token alone (split over threads) must equal it in a batch
// of 40 (many items, each walking its stripes in turn) bit for bit, and the
// textbook softmax within rounding, at depths across many chunks.
TEST_P(OpsParity, SplitKeysDecodeEqualsBatchAndTextbook) {
  const int n_head = 4, n_head_kv = 1, hd = 64;
  const int64_t n_kv = 1500, n_tokens = 40;
  std::vector<int32_t> positions(n_tokens);
  for (int64_t t = 0; t < n_tokens; ++t) positions[t] = int32_t(1460 + t);
  positions[1] = 100;   // one chunk
  positions[2] = 256;   // the first key of the second chunk
  positions[3] = 1030;  // stripes 0..4
  for (DType cache : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0})
    for (int window : {0, 700}) {
      TestCache c(*cpu_, cache, n_kv, n_head_kv, hd, 31);
      const auto q = random_floats(size_t(n_tokens) * n_head * hd, 33, 2.0f);
      AttentionParams p = attention_params(q.data(), positions.data(), n_tokens, {cache, c.k.data(), c.row},
                                           {cache, c.v.data(), c.row}, n_kv, n_head, n_head_kv, hd);
      p.sliding_window = window;
      p.flash = true;
      for (Backend* be : {ref_.get(), cpu_.get()}) be->reserve(n_tokens * n_head, 1024, n_kv, 128);
      std::vector<float> out(size_t(n_tokens) * n_head * hd), ref_out(out.size());
      p.out = out.data();
      cpu_->attention(p);
      p.out = ref_out.data();
      ref_->attention(p);
      const std::string what = fmt::format("{} window {}", dtype_name(cache), window);
      expect_close(ref_out, out, 1e-5, what + " vs reference");
      for (int64_t t = 0; t < n_tokens; ++t) {
        if (!dtype_info(cache).quantized && (t < 4 || t == n_tokens - 1)) {
          const int64_t first = window > 0 ? std::max<int64_t>(0, positions[t] - window + 1) : 0;
          for (int h = 0; h < n_head; ++h) {
            const auto expected =
                textbook_attention(q.data() + (t * n_head + h) * hd, c.kf, c.vf, n_head_kv, 0, hd, first, positions[t]);
            for (int d = 0; d < hd; ++d)
              ASSERT_NEAR(out[(t * n_head + h) * hd + d], expected[d], cache == DType::F32 ? 1e-4 : 2e-2)
                  << what << " token " << t << " head " << h;
          }
        }
        expect_alone_equals_batch(*cpu_, p, t, out, what);
      }
    }
}

// A paged KV cache: two sequences whose blocks are scattered through the
// cache in no order give bitwise the outputs of each sequence alone in a
// contiguous cache (only the row addressing differs).
TEST_P(OpsParity, PagedAttentionEqualsContiguous) {
  const int n_head = 4, n_head_kv = 2, hd = 64, shift = 3, bs = 1 << shift;
  const int64_t n_kv = 45, width = int64_t(n_head_kv) * hd;
  const std::vector<int32_t> table_a = {7, 2, 11, 0, 5, 3}, table_b = {1, 9, 4, 10, 6, 8};  // 6 blocks of 8 >= 45 keys
  const std::vector<int32_t> positions = {39, 40, 44, 3, 20, 44};  // tokens 0-2 of sequence a, 3-5 of b
  for (DType cache : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0})
    for (bool flash : {false, true})
      for (int window : {0, 7}) {
        if (!flash && dtype_info(cache).quantized) continue;
        const size_t row = row_bytes(cache, width);
        const auto q = random_floats(size_t(positions.size()) * n_head * hd, 25);
        // Each sequence's keys and values, contiguous and paged.
        std::vector<uint8_t> paged_k(row * 12 * bs), paged_v(row * 12 * bs);
        std::vector<float> expected;
        for (int s = 0; s < 2; ++s) {
          const auto kf = random_floats(size_t(n_kv * width), 30 + s), vf = random_floats(size_t(n_kv * width), 40 + s);
          std::vector<uint8_t> k(row * n_kv), v(row * n_kv);
          cpu_->store_kv(kf.data(), n_kv, width, KvView{cache, k.data(), row}, 0);
          cpu_->store_kv(vf.data(), n_kv, width, KvView{cache, v.data(), row}, 0);
          const std::vector<int32_t>& table = s == 0 ? table_a : table_b;
          for (int64_t j = 0; j < n_kv; ++j) {
            const int64_t at = int64_t(table[size_t(j / bs)]) * bs + j % bs;
            std::copy_n(k.begin() + j * row, row, paged_k.begin() + at * row);
            std::copy_n(v.begin() + j * row, row, paged_v.begin() + at * row);
          }
          AttentionParams p = attention_params(q.data() + size_t(s) * 3 * n_head * hd, positions.data() + s * 3, 3,
                                               {cache, k.data(), row}, {cache, v.data(), row}, n_kv, n_head,
                                               n_head_kv, hd);
          p.sliding_window = window;
          p.flash = flash;
          std::vector<float> out(size_t(3) * n_head * hd);
          p.out = out.data();
          cpu_->attention(p);
          expected.insert(expected.end(), out.begin(), out.end());
        }
        const std::vector<const int32_t*> tables = {table_a.data(), table_a.data(), table_a.data(),
                                                    table_b.data(), table_b.data(), table_b.data()};
        AttentionParams p = attention_params(q.data(), positions.data(), int64_t(positions.size()),
                                             {cache, paged_k.data(), row}, {cache, paged_v.data(), row}, n_kv,
                                             n_head, n_head_kv, hd);
        p.block_tables = tables.data();
        p.kv_block_shift = shift;
        p.sliding_window = window;
        p.flash = flash;
        std::vector<float> out(expected.size());
        p.out = out.data();
        cpu_->attention(p);
        EXPECT_EQ(out, expected) << dtype_name(cache) << " flash " << flash << " window " << window;
        std::vector<float> ref_out(expected.size());
        p.out = ref_out.data();
        ref_->attention(p);
        expect_close(ref_out, expected, (!flash && cache == DType::F16) ? 1.0 / 1024 : 1e-5, "paged ref");
      }
}

// gpt-oss's SwiGLU-OAI against ggml_swiglu_oai's formula (alpha 1.702, limit
// 7: the gate clamped above, the up both ways), on values that cross the limits.
TEST_P(OpsParity, SwigluOaiIsGgmlFormula) {
  const auto g = random_floats(5 * 33, 51, 6.0f), u = random_floats(5 * 33, 52, 6.0f);
  std::vector<float> out(g.size());
  cpu_->gated_activation(Activation::SwigluOai, g.data(), u.data(), 33, 5, 33, out.data());
  int clamped = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double x = std::min(double(g[i]), 7.0), y = std::clamp(double(u[i]), -7.0, 7.0);
    clamped += g[i] > 7.0f || std::fabs(u[i]) > 7.0f;
    ASSERT_NEAR(out[i], x / (1.0 + std::exp(-1.702 * x)) * (y + 1.0), 1e-5 * (1.0 + std::fabs(out[i]))) << i;
  }
  EXPECT_GT(clamped, 5);  // the limits were exercised
}

// Attention sinks (gpt-oss) on odd sizes: head sizes 40 and 64, 3 query
// heads per KV head, 7 tokens over 37 keys, windows; every cache type (Q4_1
// and Q5_0 take the grouped path, the others the tiled one), flash and not,
// against the reference backend; and the f32 cache against a textbook
// softmax in double whose denominator has the extra exp(sink) term.
TEST_P(OpsParity, AttentionSinksOddSizes) {
  const int n_head = 6, n_head_kv = 2;
  const int64_t n_kv = 37, n_tokens = 7;
  const std::vector<int32_t> positions = {0, 5, 30, 31, 33, 35, 36};
  const std::vector<float> sinks = {2.5f, -1.0f, 0.3f, 6.0f, -30.0f, 1.2f};  // one dominates, one vanishes
  for (int hd : {40, 64})
  for (DType cache : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0})
    for (bool flash : {false, true})
      for (int window : {0, 9}) {
        if (dtype_info(cache).quantized && hd % dtype_info(cache).block_size != 0) continue;
        const int64_t width = int64_t(n_head_kv) * hd;
        const auto kf = random_floats(size_t(n_kv * width), 61, 2.0f), vf = random_floats(size_t(n_kv * width), 62);
        const auto q = random_floats(size_t(n_tokens) * n_head * hd, 63, 2.0f);
        const size_t row = row_bytes(cache, width);
        std::vector<uint8_t> k(row * n_kv), v(row * n_kv);
        ref_->store_kv(kf.data(), n_kv, width, KvView{cache, k.data(), row}, 0);
        ref_->store_kv(vf.data(), n_kv, width, KvView{cache, v.data(), row}, 0);
        AttentionParams p = attention_params(q.data(), positions.data(), n_tokens, {cache, k.data(), row},
                                             {cache, v.data(), row}, n_kv, n_head, n_head_kv, hd);
        p.sliding_window = window;
        p.flash = flash;
        p.sinks = sinks.data();
        std::vector<float> a(size_t(n_tokens) * n_head * hd), b(a.size()), none(a.size());
        p.out = a.data();
        ref_->attention(p);
        p.out = b.data();
        cpu_->attention(p);
        const std::string what = fmt::format("hd {} {} flash {} window {}", hd, dtype_name(cache), flash, window);
        expect_close(b, a, (!flash && cache == DType::F16) ? 1.0 / 1024 : 1e-5, what);
        p.sinks = nullptr;
        p.out = none.data();
        cpu_->attention(p);
        EXPECT_NE(none, b) << what << ": the sinks changed nothing";
        if (cache != DType::F32) continue;
        for (int64_t t = 0; t < n_tokens; ++t) {
          const int64_t first = window > 0 ? std::max<int64_t>(0, positions[t] - window + 1) : 0;
          for (int h = 0; h < n_head; ++h) {
            const int kvh = h / (n_head / n_head_kv);
            std::vector<double> w;
            double max_s = sinks[h];
            for (int64_t j = first; j <= positions[t]; ++j) {
              double dot = 0.0;
              for (int d = 0; d < hd; ++d) dot += double(q[(t * n_head + h) * hd + d]) * kf[(j * n_head_kv + kvh) * hd + d];
              w.push_back(dot * 0.125);
              max_s = std::max(max_s, w.back());
            }
            double total = std::exp(sinks[h] - max_s);
            for (double& x : w) total += (x = std::exp(x - max_s));
            for (int d = 0; d < hd; ++d) {
              double expected = 0.0;
              for (size_t r = 0; r < w.size(); ++r) expected += w[r] / total * vf[((first + r) * n_head_kv + kvh) * hd + d];
              ASSERT_NEAR(b[(t * n_head + h) * hd + d], expected, 1e-4) << what << " token " << t << " head " << h;
            }
          }
        }
      }
}

TEST_P(OpsParity, MixtureOfExperts) {
  const int64_t n_embd = 64, n_ff = 96, n_expert = 5, rows = 7;
  const int k = 2;
  const TestWeight gate = make_weight(DType::Q8_0, n_embd, n_ff, n_expert, 1);
  const TestWeight up = make_weight(DType::Q8_0, n_embd, n_ff, n_expert, 2);
  const TestWeight down = make_weight(DType::Q4_0, n_ff, n_embd, n_expert, 3);
  const auto x = random_floats(rows * n_embd, 4);
  std::vector<int32_t> ids;
  std::vector<float> weights;
  for (int64_t r = 0; r < rows; ++r) {
    ids.push_back(int32_t(r % n_expert));
    ids.push_back(int32_t((r * 3 + 1) % n_expert));
    weights.push_back(0.75f);
    weights.push_back(0.25f);
  }
  MoeParams p;
  p.x = x.data();
  p.rows = rows;
  p.expert_ids = ids.data();
  p.expert_weights = weights.data();
  p.n_used = k;
  p.gate = gate.w;
  p.up = up.w;
  p.down = down.w;
  std::vector<float> a(rows * n_embd), b(a.size());
  p.out = a.data();
  ref_->moe_ffn(p);
  p.out = b.data();
  cpu_->moe_ffn(p);
  expect_close(b, a, 1e-4, "moe");

  // gpt-oss's experts: MXFP4, per-expert biases, SwiGLU-OAI; expert 2's
  // gate bias pushes its gates past the clamp.
  const TestWeight gate4 = make_weight(DType::MXFP4, n_embd, n_ff, n_expert, 5);
  const TestWeight up4 = make_weight(DType::MXFP4, n_embd, n_ff, n_expert, 6);
  const TestWeight down4 = make_weight(DType::MXFP4, n_ff, n_embd, n_expert, 7);
  auto gate_b = random_floats(n_expert * n_ff, 8), up_b = random_floats(n_expert * n_ff, 9);
  const auto down_b = random_floats(n_expert * n_embd, 10);
  for (int64_t i = 0; i < n_ff; ++i) gate_b[2 * n_ff + i] += 9.0f;
  p.gate = gate4.w;
  p.up = up4.w;
  p.down = down4.w;
  p.gate_b = gate_b.data();
  p.up_b = up_b.data();
  p.down_b = down_b.data();
  p.activation = Activation::SwigluOai;
  std::vector<float> c(a.size()), d(a.size());
  p.out = c.data();
  ref_->moe_ffn(p);
  p.out = d.data();
  cpu_->moe_ffn(p);
  expect_close(d, c, 1e-4, "moe gpt-oss");
  // The biases count: without them the result differs.
  p.gate_b = p.up_b = p.down_b = nullptr;
  p.out = d.data();
  cpu_->moe_ffn(p);
  EXPECT_NE(c, d);
}

INSTANTIATE_TEST_SUITE_P(Isa, OpsParity, ::testing::ValuesIn(available_isas()),
                         [](const auto& info) { return info.param; });

}  // namespace

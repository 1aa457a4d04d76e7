// The vision-encoder ops (layer_norm with bias, activation, avg_pool_2d) and
// attention with last_visible (an image's tokens seeing the whole image):
// the reference and CPU backends against a textbook computation in double,
// and against each other (bit for bit where no SIMD sum is involved).
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/fp16.h"

using namespace hearth;
using namespace hearth::backend;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::unique_ptr<Backend>> backends() {
  std::vector<std::unique_ptr<Backend>> out;
  out.push_back(make_ref_backend());
  out.push_back(make_cpu_backend(3));
  return out;
}

TEST(VisionOps, LayerNormWithBiasMatchesTextbook) {
  const int64_t rows = 37, n = 131;
  const auto x = random_floats(rows * n, 1, 3.0f, 0.7f);
  const auto w = random_floats(n, 2, 0.5f, 1.0f);
  const auto b = random_floats(n, 3, 0.3f);
  std::vector<float> first;
  for (auto& be : backends()) {
    be->reserve(rows, n, 8, 8);
    std::vector<float> y(rows * n);
    be->layer_norm(x.data(), w.data(), b.data(), rows, n, 1e-6f, y.data());
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mean += x[r * n + i];
      mean /= n;
      for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
      var /= n;
      for (int64_t i = 0; i < n; ++i) {
        const double expect = (x[r * n + i] - mean) / std::sqrt(var + 1e-6) * w[i] + b[i];
        ASSERT_NEAR(y[r * n + i], expect, 1e-5 * (1 + std::fabs(expect))) << be->name() << " row " << r << " i " << i;
      }
    }
    if (first.empty()) first = y;
    EXPECT_EQ(first, y) << be->name() << " differs from the reference backend";
    // In place, no weight or bias: plain normalisation.
    std::vector<float> z = x;
    be->layer_norm(z.data(), nullptr, nullptr, rows, n, 1e-6f, z.data());
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += z[i];
    EXPECT_NEAR(mean / n, 0.0, 1e-6);
  }
}

TEST(VisionOps, GeluMatchesTanhFormulaAtF16Precision) {
  std::vector<float> x = random_floats(4000, 4, 4.0f);
  x.push_back(-12.0f);
  x.push_back(12.5f);
  for (auto& be : backends()) {
    std::vector<float> y(x.size());
    be->activation(Activation::GeluTanh, x.data(), int64_t(x.size()), y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      const double expect = 0.5 * v * (1 + std::tanh(0.7978845608028654 * v * (1 + 0.044715 * v * v)));
      // ggml reads gelu of x rounded to f16 from an f16 table.
      ASSERT_NEAR(y[i], expect, 4e-3 * (1 + std::fabs(expect))) << be->name() << " x=" << v;
    }
    EXPECT_EQ(y[x.size() - 2], 0.0f);
    EXPECT_EQ(y[x.size() - 1], 12.5f);
  }
}

TEST(VisionOps, AvgPool2dAveragesWindows) {
  const int64_t w = 8, h = 12, c = 5;
  const int k = 4;
  const auto x = random_floats(w * h * c, 5);
  for (auto& be : backends()) {
    std::vector<float> y((w / k) * (h / k) * c);
    be->avg_pool_2d(x.data(), w, h, c, k, y.data());
    for (int64_t oy = 0; oy < h / k; ++oy)
      for (int64_t ox = 0; ox < w / k; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double sum = 0;
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) sum += x[((oy * k + dy) * w + ox * k + dx) * c + ch];
          ASSERT_NEAR(y[(oy * (w / k) + ox) * c + ch], sum / (k * k), 1e-5) << be->name();
        }
    std::vector<float> bad(1);
    EXPECT_THROW(be->avg_pool_2d(x.data(), 7, 12, c, k, bad.data()), std::exception);
  }
}

// Attention where every token sees every other (positions 0..n-1, all with
// last_visible n-1), f32 and f16 K/V, fused and not, against softmax in double.
TEST(VisionOps, AttentionWithLastVisibleSeesTheWholeSpan) {
  const int n = 45, n_head = 4, hd = 16, width = n_head * hd;
  const auto q = random_floats(n * width, 6);
  const auto k = random_floats(n * width, 7);
  const auto v = random_floats(n * width, 8);
  std::vector<int32_t> pos(n), last(n, n - 1);
  for (int i = 0; i < n; ++i) pos[i] = i;
  std::vector<float> first;
  for (auto& be : backends()) {
    be->reserve(n, width * 3, n, hd);
    for (DType type : {DType::F32, DType::F16}) {
      for (bool flash : {false, true}) {
        const size_t row = row_bytes(type, width);
        std::vector<uint8_t> kc(row * n), vc(row * n);
        KvView kv_k{type, kc.data(), row}, kv_v{type, vc.data(), row};
        be->store_kv(k.data(), n, width, kv_k, 0);
        be->store_kv(v.data(), n, width, kv_v, 0);
        AttentionParams p;
        p.q = q.data();
        p.positions = pos.data();
        p.last_visible = last.data();
        p.n_tokens = n;
        p.k = kv_k;
        p.v = kv_v;
        p.n_kv = n;
        p.n_head = n_head;
        p.n_head_kv = n_head;
        p.head_dim = hd;
        p.scale = 0.25f;
        p.flash = flash;
        std::vector<float> out(n * width);
        p.out = out.data();
        be->attention(p);
        const double tol = type == DType::F32 && !flash ? 1e-5 : 5e-3;
        for (int t = 0; t < n; t += 11)
          for (int h = 0; h < n_head; ++h) {
            std::vector<double> s(n);
            double mx = -1e300, sum = 0;
            for (int j = 0; j < n; ++j) {
              double d = 0;
              for (int i = 0; i < hd; ++i) d += double(q[t * width + h * hd + i]) * k[j * width + h * hd + i];
              s[j] = d * 0.25;
              mx = std::max(mx, s[j]);
            }
            for (int j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
            for (int i = 0; i < hd; ++i) {
              double o = 0;
              for (int j = 0; j < n; ++j) o += s[j] / sum * v[j * width + h * hd + i];
              ASSERT_NEAR(out[t * width + h * hd + i], o, tol)
                  << be->name() << " " << dtype_name(type) << (flash ? " flash" : "") << " token " << t;
            }
          }
        // Token 0 sees the last key: causal attention would give it v[0] alone.
        double diff = 0;
        for (int i = 0; i < hd; ++i) diff += std::fabs(out[i] - v[i]);
        EXPECT_GT(diff, 1e-3);
        if (type == DType::F32 && !flash) {
          if (first.empty())
            first = out;
          else
            for (size_t i = 0; i < out.size(); ++i)  // SIMD dot products: float rounding apart
              ASSERT_NEAR(out[i], first[i], 1e-5) << be->name() << " differs from the reference backend at " << i;
        }
      }
    }
  }
}

}  // namespace

// CpuBackend's vision-encoder ops (layer norm with bias, GELU, average
// pooling), each computing what ggml's CPU op computes: the same sums in the
// same precision, and the f16 GELU table.
#include <cmath>

#include "backend/ops/cpu_backend.h"
#include "core/error.h"
#include "core/fp16.h"

namespace hearth::backend {

void CpuBackend::layer_norm(const float* x, const float* weight, const float* bias, int64_t rows, int64_t n,
                            float eps, float* y) {
  split(rows, n * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      // ggml_norm: the sum in double, the mean in float; the centred values
      // stored, their squares summed in double; then one scale.
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += double(xr[i]);
      const float mean = float(sum) / float(n);
      double sum2 = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float v = xr[i] - mean;
        yr[i] = v;
        sum2 += double(v * v);
      }
      const float variance = float(sum2 / double(n));
      const float scale = 1.0f / std::sqrt(variance + eps);
      for (int64_t i = 0; i < n; ++i) yr[i] *= scale;
      // The weight and the bias are ggml_mul and ggml_add: two roundings.
      if (weight)
        for (int64_t i = 0; i < n; ++i) yr[i] = yr[i] * weight[i];
      if (bias)
        for (int64_t i = 0; i < n; ++i) yr[i] = yr[i] + bias[i];
    }
  });
}

void CpuBackend::activation(Activation act, const float* x, int64_t n, float* y) {
  if (act == Activation::SwigluOai) fail("internal: SwigluOai is a gated activation (gated_activation, moe_ffn)");
  // Element-wise, so split over the threads (BERT's FFN runs it on every row).
  split(n, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float v = x[i];
      if (act == Activation::Silu)
        y[i] = v / (1.0f + std::exp(-v));
      else if (v <= -10.0f)  // ggml_vec_gelu_f32 with its f16 table: saturates outside [-10, 10]
        y[i] = 0.0f;
      else if (v >= 10.0f)
        y[i] = v;
      else
        y[i] = fp16_to_fp32(gelu_table_[fp32_to_fp16(v)]);
    }
  });
}

void CpuBackend::avg_pool_2d(const float* x, int64_t width, int64_t height, int64_t channels, int kernel, float* y) {
  if (kernel <= 0 || width % kernel != 0 || height % kernel != 0)
    fail("avg_pool_2d: a {}x{} grid does not split into {}x{} windows", width, height, kernel, kernel);
  const int64_t out_w = width / kernel, out_h = height / kernel;
  const float area = float(kernel * kernel);
  for (int64_t oy = 0; oy < out_h; ++oy)
    for (int64_t ox = 0; ox < out_w; ++ox) {
      float* out = y + (oy * out_w + ox) * channels;
      for (int64_t c = 0; c < channels; ++c) {
        // ggml_pool_2d: a float sum in row-major window order, then / area.
        float sum = 0.0f;
        for (int ky = 0; ky < kernel; ++ky)
          for (int kx = 0; kx < kernel; ++kx) sum += x[((oy * kernel + ky) * width + ox * kernel + kx) * channels + c];
        out[c] = sum / area;
      }
    }
}

}  // namespace hearth::backend

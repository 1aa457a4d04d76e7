// Reference kernels for the float types F32, F16 and BF16. Dot products
// accumulate in double: the reference is the exact-as-possible value, which
// every SIMD float ordering must approach.
#include <cstring>

#include "backend/ref/kernels_ref.h"
#include "core/fp16.h"

namespace hearth::ref {

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
}

float vec_dot_f32(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const float*>(weight);
  const auto* a = static_cast<const float*>(act);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(w[i]) * double(a[i]);
  return float(sum);
}

float vec_dot_f16(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const uint16_t*>(weight);
  const auto* a = static_cast<const uint16_t*>(act);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(fp16_to_fp32(w[i])) * double(fp16_to_fp32(a[i]));
  return float(sum);
}

float vec_dot_bf16(int64_t n, const void* weight, const void* act) {
  const auto* w = static_cast<const uint16_t*>(weight);
  const auto* a = static_cast<const uint16_t*>(act);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(bf16_to_fp32(w[i])) * double(bf16_to_fp32(a[i]));
  return float(sum);
}

}  // namespace hearth::ref

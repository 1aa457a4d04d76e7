// Type dispatch of the reference kernels (ref/quants.h).
#include "backend/ref/quants.h"

#include "backend/ref/kernels_ref.h"
#include "core/error.h"

namespace hearth::ref {
namespace {

using DequantizeFn = void (*)(const void*, float*, int64_t);
using QuantizeFn = void (*)(const float*, void*, int64_t);
using VecDotFn = float (*)(int64_t, const void*, const void*);

struct TypeKernels {
  DequantizeFn dequantize = nullptr;
  QuantizeFn quantize = nullptr;
  VecDotFn vec_dot = nullptr;
  DType act_type = DType::F32;
};

TypeKernels kernels_for(DType type) {
  switch (type) {
    case DType::F32: return {dequantize_f32, quantize_f32, vec_dot_f32, DType::F32};
    case DType::F16: return {dequantize_f16, quantize_f16, vec_dot_f16, DType::F16};
    case DType::BF16: return {dequantize_bf16, quantize_bf16, vec_dot_bf16, DType::BF16};
    case DType::Q4_0: return {dequantize_q4_0, quantize_q4_0, vec_dot_q4_0, DType::Q8_0};
    case DType::Q4_1: return {dequantize_q4_1, quantize_q4_1, vec_dot_q4_1, DType::Q8_1};
    case DType::Q5_0: return {dequantize_q5_0, quantize_q5_0, vec_dot_q5_0, DType::Q8_0};
    case DType::Q5_1: return {dequantize_q5_1, quantize_q5_1, vec_dot_q5_1, DType::Q8_1};
    case DType::Q8_0: return {dequantize_q8_0, quantize_q8_0, vec_dot_q8_0, DType::Q8_0};
    case DType::Q8_1: return {dequantize_q8_1, quantize_q8_1, nullptr, DType::Q8_1};
    case DType::Q2_K: return {dequantize_q2_K, quantize_q2_K, vec_dot_q2_K, DType::Q8_K};
    case DType::Q3_K: return {dequantize_q3_K, quantize_q3_K, vec_dot_q3_K, DType::Q8_K};
    case DType::Q4_K: return {dequantize_q4_K, quantize_q4_K, vec_dot_q4_K, DType::Q8_K};
    case DType::Q5_K: return {dequantize_q5_K, quantize_q5_K, vec_dot_q5_K, DType::Q8_K};
    case DType::Q6_K: return {dequantize_q6_K, quantize_q6_K, vec_dot_q6_K, DType::Q8_K};
    case DType::Q8_K: return {dequantize_q8_K, quantize_q8_K, nullptr, DType::Q8_K};
    case DType::IQ4_NL: return {dequantize_iq4_nl, quantize_iq4_nl, vec_dot_iq4_nl, DType::Q8_0};
    case DType::IQ4_XS: return {dequantize_iq4_xs, quantize_iq4_xs, vec_dot_iq4_xs, DType::Q8_K};
    case DType::IQ2_XXS: return {dequantize_iq2_xxs, nullptr, vec_dot_iq2_xxs, DType::Q8_K};
    case DType::IQ2_XS: return {dequantize_iq2_xs, nullptr, vec_dot_iq2_xs, DType::Q8_K};
    case DType::IQ2_S: return {dequantize_iq2_s, quantize_iq2_s, vec_dot_iq2_s, DType::Q8_K};
    case DType::IQ3_XXS: return {dequantize_iq3_xxs, quantize_iq3_xxs, vec_dot_iq3_xxs, DType::Q8_K};
    case DType::IQ3_S: return {dequantize_iq3_s, quantize_iq3_s, vec_dot_iq3_s, DType::Q8_K};
    case DType::IQ1_S: return {dequantize_iq1_s, nullptr, vec_dot_iq1_s, DType::Q8_K};
    case DType::IQ1_M: return {dequantize_iq1_m, quantize_iq1_m, vec_dot_iq1_m, DType::Q8_K};
    case DType::TQ1_0: return {dequantize_tq1_0, quantize_tq1_0, vec_dot_tq1_0, DType::Q8_K};
    case DType::TQ2_0: return {dequantize_tq2_0, quantize_tq2_0, vec_dot_tq2_0, DType::Q8_K};
    case DType::MXFP4: return {dequantize_mxfp4, quantize_mxfp4, vec_dot_mxfp4, DType::Q8_0};
    default: return {};
  }
}

void check_row_length(DType type, int64_t n) {
  const uint32_t block = dtype_info(type).block_size;
  if (n < 0 || n % block != 0) {
    fail("row of {} elements is not a whole number of {} blocks ({} elements each)", n,
         dtype_name(type), block);
  }
}

}  // namespace

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  const TypeKernels k = kernels_for(type);
  if (!k.dequantize) fail("dequantization of {} is not supported", dtype_name(type));
  check_row_length(type, n);
  k.dequantize(src, dst, n);
}

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
  const TypeKernels k = kernels_for(type);
  if (!k.quantize) fail("quantization to {} is not supported", dtype_name(type));
  check_row_length(type, n);
  k.quantize(src, dst, n);
}

void quantize_row_weighted(DType type, const float* src, void* dst, int64_t n, const float* importance) {
  check_row_length(type, n);
  if (type == DType::IQ2_XS) return quantize_iq2_xs_weighted(src, dst, n, importance);  // fails without one
  if (type == DType::IQ2_XXS) return quantize_iq2_xxs_weighted(src, dst, n, importance);
  if (type == DType::IQ1_S) return quantize_iq1_s_weighted(src, dst, n, importance);
  if (importance == nullptr) return quantize_row(type, src, dst, n);
  switch (type) {
    case DType::IQ3_XXS: return quantize_iq3_xxs_weighted(src, dst, n, importance);
    case DType::IQ3_S: return quantize_iq3_s_weighted(src, dst, n, importance);
    case DType::IQ2_S: return quantize_iq2_s_weighted(src, dst, n, importance);
    case DType::IQ1_M: return quantize_iq1_m_weighted(src, dst, n, importance);
    default: return quantize_row(type, src, dst, n);  // the others ignore an importance matrix here
  }
}

void quantize_activation(DType act_type, const float* src, void* dst, int64_t n) {
  check_row_length(act_type, n);
  switch (act_type) {
    case DType::Q8_0: return quantize_act_q8_0(src, dst, n);
    case DType::Q8_1: return quantize_act_q8_1(src, dst, n);
    case DType::Q8_K: return quantize_q8_K(src, dst, n);
    case DType::F16: return quantize_f16(src, dst, n);
    case DType::BF16: return quantize_bf16(src, dst, n);
    case DType::F32: return quantize_f32(src, dst, n);
    default: fail("{} is not an activation type", dtype_name(act_type));
  }
}

DType vec_dot_type(DType weight_type) {
  const TypeKernels k = kernels_for(weight_type);
  if (!k.vec_dot) fail("{} has no dot product kernel", dtype_name(weight_type));
  return k.act_type;
}

float vec_dot(DType weight_type, int64_t n, const void* weight_row, const void* act_row) {
  const TypeKernels k = kernels_for(weight_type);
  if (!k.vec_dot) fail("{} has no dot product kernel", dtype_name(weight_type));
  check_row_length(weight_type, n);
  return k.vec_dot(n, weight_row, act_row);
}

bool is_supported(DType type) {
  const TypeKernels k = kernels_for(type);
  return k.dequantize && k.vec_dot;
}

bool can_quantize(DType type) { return kernels_for(type).quantize != nullptr; }

}  // namespace hearth::ref

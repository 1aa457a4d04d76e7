// The Vulkan ops beyond the shared DeviceOps cases (tests/backend/
// device_op_cases.h), against the scalar reference backend at odd sizes:
// the lattice (IQ1-IQ3), ternary (TQ1_0, TQ2_0) and MXFP4 weight types in
// matmul (mat-vec and tiled, with partial tiles) and get_rows, bit for bit;
// gpt-oss's MoE (expert biases, SwiGLU-OAI); BERT's layer_norm and
// ungated activations.
#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/random_blocks.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::device_test;

namespace {

const DType kNewTypes[] = {DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S, DType::IQ3_XXS, DType::IQ3_S,
                           DType::IQ1_S,   DType::IQ1_M,  DType::TQ1_0, DType::TQ2_0,   DType::MXFP4};

// 3 super-blocks of 256, or 5 blocks of 32 (MXFP4).
int64_t odd_width(DType type) { return dtype_info(type).block_size == 256 ? 768 : 160; }

std::unique_ptr<Backend> reference(int64_t rows, int64_t n) {
  auto ref = make_ref_backend();
  ref->reserve(rows, n, 64, 64);
  return ref;
}

// Matrices of `type`: quantized from random values where hearth has a
// quantizer (TQ1_0, TQ2_0, MXFP4 and some lattice types), random valid
// blocks otherwise; either way every level, sign and scale code is used.
using TestMatrix = test::TestWeight;
constexpr auto make_matrix = test::make_test_weight;

TEST(VulkanTypes, MatmulEveryNewTypeIsTheReferenceBitForBit) {
  auto& d = vulkan_test::device();
  for (DType type : kNewTypes) {
    const int64_t n_in = odd_width(type), n_out = 13;
    const TestMatrix w = make_matrix(type, n_in, n_out, 1, 10);
    const DeviceTensor wt = d.upload_weight(w.w);
    // 1 and 3 rows: mat-vec; 5 and 19: 8 x 8 tiles, partly filled.
    for (int64_t rows : {1, 3, 5, 19}) {
      const auto x = random_floats(size_t(rows * n_in), 11 + uint32_t(rows), 2.0f);
      std::vector<float> expected(size_t(rows * n_out));
      reference(rows, n_in)->matmul(w.w, x.data(), rows, expected.data());
      const DeviceTensor y = d.alloc(DType::F32, n_out, rows);
      d.matmul(wt, upload(d, x, n_in), y);
      expect_equal(download(d, y), expected, fmt::format("matmul {} rows {}", dtype_name(type), rows));
      d.free(y);
    }
    d.free(wt);
  }
}

TEST(VulkanTypes, GetRowsEveryNewTypeExactly) {
  auto& d = vulkan_test::device();
  for (DType type : kNewTypes) {
    const int64_t n = odd_width(type);
    const TestMatrix table = make_matrix(type, n, 11, 1, 8);
    const std::vector<int32_t> ids = {3, 0, 10, 3, 7};
    std::vector<float> expected(ids.size() * size_t(n));
    reference(8, n)->get_rows(table.w, ids.data(), int64_t(ids.size()), expected.data());
    const DeviceTensor tt = d.upload_weight(table.w);
    const DeviceTensor out = d.alloc(DType::F32, n, int64_t(ids.size()));
    d.get_rows(tt, upload_ids(d, ids), out);
    expect_equal(download(d, out), expected, fmt::format("get_rows {}", dtype_name(type)));
    d.free(tt);
  }
}

// gpt-oss's expert FFN: MXFP4 experts with per-expert biases after gate,
// up and down, and SwiGLU-OAI; against the reference's moe_ffn. Values
// large enough that the +-7 clamps bite.
TEST(VulkanTypes, MoeWithExpertBiasesAndSwigluOai) {
  auto& d = vulkan_test::device();
  const int64_t n_embd = 64, n_ff = 96, rows = 3, n_expert = 4;
  const int n_used = 2;
  for (DType type : {DType::MXFP4, DType::Q8_0}) {
    const TestMatrix gate = make_matrix(type, n_embd, n_ff, n_expert, 32);
    const TestMatrix up = make_matrix(type, n_embd, n_ff, n_expert, 33);
    const TestMatrix down = make_matrix(type, n_ff, n_embd, n_expert, 34);
    const auto gate_b = random_floats(size_t(n_ff * n_expert), 37, 2.0f);
    const auto up_b = random_floats(size_t(n_ff * n_expert), 38, 2.0f);
    const auto down_b = random_floats(size_t(n_embd * n_expert), 39);
    const auto x = random_floats(size_t(rows * n_embd), 35, 2.0f);
    const std::vector<int32_t> ids = {3, 0, 1, 3, 2, 1};
    const std::vector<float> weights = {0.7f, 0.3f, 0.55f, 0.45f, 0.9f, 0.1f};

    auto ref = reference(rows * n_used, n_ff);
    MoeParams p;
    p.x = x.data();
    p.rows = rows;
    p.expert_ids = ids.data();
    p.expert_weights = weights.data();
    p.n_used = n_used;
    p.gate = gate.w;
    p.up = up.w;
    p.down = down.w;
    p.gate_b = gate_b.data();
    p.up_b = up_b.data();
    p.down_b = down_b.data();
    p.activation = Activation::SwigluOai;
    std::vector<float> expected(size_t(rows * n_embd));
    p.out = expected.data();
    ref->moe_ffn(p);

    DeviceMoe m;
    m.x = upload(d, x, n_embd);
    m.ids = d.alloc(DType::I32, n_used, rows);
    d.write(m.ids, ids.data());
    m.weights = upload(d, weights, n_used);
    m.gate = d.upload_weight(gate.w);
    m.up = d.upload_weight(up.w);
    m.down = d.upload_weight(down.w);
    m.n_expert = int(n_expert);
    m.gate_b = upload(d, gate_b, n_ff);
    m.up_b = upload(d, up_b, n_ff);
    m.down_b = upload(d, down_b, n_embd);
    m.activation = Activation::SwigluOai;
    m.out = d.alloc(DType::F32, n_embd, rows);
    d.moe_ffn(m);
    // exp() on the device may differ in the last bit, and an activation
    // that moves an ulp can flip one int8 level of down's input.
    expect_close(download(d, m.out), expected, 2e-3, fmt::format("moe_ffn {} swiglu-oai biases", dtype_name(type)));
    for (const auto& t : {m.x, m.ids, m.weights, m.gate, m.up, m.down, m.gate_b, m.up_b, m.down_b, m.out}) d.free(t);
  }
}

TEST(VulkanTypes, SwigluOaiGatedActivation) {
  auto& d = vulkan_test::device();
  const int64_t rows = 4, n = 77;
  auto fused = random_floats(size_t(rows * 2 * n), 7, 6.0f);  // past the +-7 limits
  std::vector<float> expected(size_t(rows * n));
  reference(rows, 2 * n)->gated_activation(Activation::SwigluOai, fused.data(), fused.data() + n, 2 * n, rows, n,
                                           expected.data());
  const DeviceTensor ft = upload(d, fused, 2 * n);
  const DeviceTensor out = d.alloc(DType::F32, n, rows);
  d.gated_activation(Activation::SwigluOai, ft.columns(0, n), ft.columns(n, n), out);
  expect_close(download(d, out), expected, 1e-6, "swiglu-oai");
}

TEST(VulkanTypes, LayerNormWithAndWithoutWeightAndBias) {
  auto& d = vulkan_test::device();
  const int64_t rows = 5, n = 123;
  const auto x = random_floats(size_t(rows * n), 4, 2.0f);
  const auto weight = random_floats(size_t(n), 5), bias = random_floats(size_t(n), 6);
  for (int variant = 0; variant < 4; ++variant) {
    const bool with_weight = variant & 1, with_bias = variant & 2;
    std::vector<float> shifted = x;
    for (size_t i = 0; i < shifted.size(); ++i) shifted[i] += 3.0f;  // a mean far from zero
    std::vector<float> expected(size_t(rows * n));
    reference(rows, n)->layer_norm(shifted.data(), with_weight ? weight.data() : nullptr,
                                   with_bias ? bias.data() : nullptr, rows, n, 1e-12f, expected.data());
    const DeviceTensor xt = upload(d, shifted, n);
    const DeviceTensor wt = with_weight ? upload(d, weight, n) : DeviceTensor{};
    const DeviceTensor bt = with_bias ? upload(d, bias, n) : DeviceTensor{};
    const DeviceTensor yt = d.alloc(DType::F32, n, rows);
    d.layer_norm(xt, wt, bt, 1e-12f, yt);
    const std::string what = fmt::format("layer_norm weight {} bias {}", with_weight, with_bias);
    expect_close(download(d, yt), expected, 2e-6, what);
    d.layer_norm(xt, wt, bt, 1e-12f, xt);  // in place
    expect_close(download(d, xt), expected, 2e-6, what + " in place");
  }
}

TEST(VulkanTypes, UngatedActivations) {
  auto& d = vulkan_test::device();
  const int64_t rows = 3, n = 101;
  auto x = random_floats(size_t(rows * n), 12, 4.0f);
  x[5] = 12.0f, x[6] = -11.0f;  // GELU's saturated ends
  for (Activation act : {Activation::Silu, Activation::GeluTanh}) {
    std::vector<float> expected(x.size());
    reference(rows, n)->activation(act, x.data(), int64_t(x.size()), expected.data());
    const DeviceTensor xt = upload(d, x, n);
    const DeviceTensor yt = d.alloc(DType::F32, n, rows);
    d.activation(act, xt, yt);
    // GELU rounds its result to f16: a tanh an ulp apart can move it one f16 step.
    const double tolerance = act == Activation::Silu ? 1e-6 : 1e-3;
    expect_close(download(d, yt), expected, tolerance, act == Activation::Silu ? "silu" : "gelu");
    d.activation(act, xt, xt);  // in place
    expect_close(download(d, xt), expected, tolerance, "in place");
  }
}

}  // namespace

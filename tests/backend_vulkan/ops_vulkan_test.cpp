// Every op of the Vulkan backend against the scalar reference backend (one
// thread, the ref kernels), at odd sizes, on the first Vulkan device (lavapipe
// in CI). Exact where the op is exact on the host (conversions, quantizers,
// dequantization), within float-rounding tolerance where sums change order.
#include <cstring>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;

namespace {

std::unique_ptr<Backend> reference(int64_t rows, int64_t n) {
  auto ref = make_ref_backend();
  ref->reserve(rows, n, 64, 64);
  return ref;
}

// A weight of `type` quantized from random data, kept alive with its bytes.
struct TestWeight {
  std::vector<uint8_t> bytes;
  Weight w;
};

TestWeight make_weight(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  TestWeight t;
  const size_t row = row_bytes(type, n_in);
  t.bytes.resize(row * n_out);
  const auto values = random_floats(size_t(n_in) * n_out, seed, 0.5f);
  for (int64_t r = 0; r < n_out; ++r) ref::quantize_row(type, values.data() + r * n_in, t.bytes.data() + r * row, n_in);
  t.w = Weight{type, t.bytes.data(), n_in, n_out, 1, row};
  return t;
}

// Every weight type hearth reads (the 15 of issue 13).
const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                              DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                              DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

bool is_float(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }
bool is_super_block(DType type) { return dtype_info(type).block_size == 256; }
// An odd row length for the type: 45 floats, 5 blocks of 32, 3 of 256.
int64_t odd_width(DType type) { return is_float(type) ? 45 : is_super_block(type) ? 768 : 160; }

TEST(VulkanOps, ElementwiseMatchReference) {
  const int64_t rows = 3, n = 97;
  auto y0 = random_floats(rows * n, 1, 3.0f), x = random_floats(rows * n, 2), bias = random_floats(n, 3);
  auto ref = reference(rows, n);
  auto& d = device();

  auto expected = y0;
  ref->add(expected.data(), x.data(), rows * n);
  auto y = upload(y0, n);
  d.add(y, upload(x, n));
  expect_equal(download(y), expected, "add");

  ref->add_rows(expected.data(), bias.data(), rows, n);
  d.add_rows(y, upload(bias, n));
  expect_equal(download(y), expected, "add_rows");

  ref->scale(expected.data(), 0.37f, rows * n);
  d.scale(y, 0.37f);
  expect_equal(download(y), expected, "scale");

  ref->softcap(expected.data(), 2.5f, rows * n);
  d.softcap(y, 2.5f);
  expect_close(download(y), expected, 1e-6, "softcap");

  // On a view: only the middle row changes.
  auto before = download(y);
  d.scale(y.row_range(1, 1), 2.0f);
  auto after = download(y);
  for (int64_t i = 0; i < rows * n; ++i) EXPECT_EQ(after[i], (i / n == 1) ? before[i] * 2.0f : before[i]) << i;
}

TEST(VulkanOps, HadamardIsTheReferenceBitForBit) {
  for (int block : {1, 32, 128, 4096}) {
    const int64_t n = 4096, rows = 3;
    auto x = random_floats(rows * n, 40 + uint32_t(block));
    auto expected = x;
    reference(rows, n)->hadamard(expected.data(), rows * n, block);
    auto xt = upload(x, n);
    device().hadamard(xt, block);
    expect_equal(download(xt), expected, fmt::format("hadamard block {}", block));
  }
}

TEST(VulkanOps, RmsNormMatchesReference) {
  for (bool with_weight : {false, true}) {
    const int64_t rows = 5, n = 123;
    auto x = random_floats(rows * n, 4, 2.0f), weight = random_floats(n, 5);
    std::vector<float> expected(rows * n);
    reference(rows, n)->rms_norm(x.data(), with_weight ? weight.data() : nullptr, rows, n, 1e-5f, expected.data());
    auto& d = device();
    auto xt = upload(x, n);
    auto yt = d.alloc(DType::F32, n, rows);
    d.rms_norm(xt, with_weight ? upload(weight, n) : DeviceTensor{}, 1e-5f, yt);
    expect_close(download(yt), expected, 2e-6, fmt::format("rms_norm weight {}", with_weight));
    d.rms_norm(xt, DeviceTensor{}, 1e-5f, xt);  // in place
  }
}

TEST(VulkanOps, RopeMatchesReference) {
  struct Case {
    RopeParams::Mode mode;
    int n_dims;
    bool freq_factors;
    bool yarn;
  };
  const Case cases[] = {{RopeParams::Mode::Norm, 48, false, false},
                        {RopeParams::Mode::Neox, 48, false, false},
                        {RopeParams::Mode::Neox, 32, true, false},   // partial rotation, llama3 factors
                        {RopeParams::Mode::Norm, 48, false, true},   // YaRN
                        {RopeParams::Mode::Neox, 48, true, true}};
  const int n_heads = 3, head_dim = 48;
  const int64_t rows = 7;
  const std::vector<int32_t> positions = {0, 1, 17, 250, 1023, 4099, 32001};
  for (const Case& c : cases) {
    RopeParams p;
    p.mode = c.mode;
    p.n_dims = c.n_dims;
    p.freq_base = 500000.0f;
    std::vector<float> factors(c.n_dims / 2);
    for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.5f * float(i % 5);
    if (c.freq_factors) p.freq_factors = factors.data();
    if (c.yarn) {
      p.ext_factor = 1.0f;
      p.freq_scale = 0.25f;
      p.attn_factor = 1.0f;
      p.n_ctx_orig = 4096;
    }
    auto x = random_floats(rows * n_heads * head_dim, 6);
    auto expected = x;
    reference(rows, n_heads * head_dim)->rope(expected.data(), rows, n_heads, head_dim, positions.data(), p);
    auto& d = device();
    auto xt = upload(x, n_heads * head_dim);
    DeviceRope rope{p, c.freq_factors ? upload(factors, int64_t(factors.size())) : DeviceTensor{}};
    d.rope(xt, n_heads, head_dim, upload_ids(positions), rope);
    // Large angles: cos/sin of the same float angle, reduced on the device.
    expect_close(download(xt), expected, 2e-5,
                 fmt::format("rope mode {} dims {} factors {} yarn {}", int(c.mode), c.n_dims, c.freq_factors, c.yarn));
  }
}

TEST(VulkanOps, GatedActivationsMatchReference) {
  const int64_t rows = 4, n = 77;
  // gate and up are the two halves of one fused [rows][2n] projection.
  auto fused = random_floats(rows * 2 * n, 7, 3.0f);
  for (Activation act : {Activation::Silu, Activation::GeluTanh}) {
    std::vector<float> expected(rows * n);
    reference(rows, 2 * n)->gated_activation(act, fused.data(), fused.data() + n, 2 * n, rows, n, expected.data());
    auto& d = device();
    auto ft = upload(fused, 2 * n);
    auto out = d.alloc(DType::F32, n, rows);
    d.gated_activation(act, ft.columns(0, n), ft.columns(n, n), out);
    // GELU rounds its result to f16: a tanh an ulp apart can move it one f16 step.
    expect_close(download(out), expected, act == Activation::Silu ? 1e-6 : 1e-3,
                 act == Activation::Silu ? "silu" : "gelu");
  }
}

TEST(VulkanOps, GetRowsEveryTypeExactly) {
  for (DType type : kWeightTypes) {
    const int64_t n = odd_width(type);
    auto table = make_weight(type, n, 11, 8);
    const std::vector<int32_t> ids = {3, 0, 10, 3, 7};
    std::vector<float> expected(ids.size() * n);
    reference(8, n)->get_rows(table.w, ids.data(), int64_t(ids.size()), expected.data());
    auto& d = device();
    auto tt = d.upload_weight(table.w);
    auto out = d.alloc(DType::F32, n, int64_t(ids.size()));
    d.get_rows(tt, upload_ids(ids), out);
    expect_equal(download(out), expected, fmt::format("get_rows {}", dtype_name(type)));
    d.free(tt);
  }
}

TEST(VulkanOps, StoreKvBytesMatchReference) {
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    // 5 blocks of 32: Q8_0 rows of 170 bytes and Q4_0 rows of 90 start at
    // odd words, so neighbouring rows share words.
    const int64_t n = 160, cache_rows = 9, rows = 4, first = 3;
    const size_t row = row_bytes(type, n);
    auto src = random_floats(rows * n, 9, 2.0f);
    std::vector<uint8_t> expected(row * cache_rows, 0);
    reference(rows, n)->store_kv(src.data(), rows, n, KvView{type, expected.data(), row}, first);
    // Both sides start from the same non-zero bytes around the written rows.
    std::vector<uint8_t> initial(row * cache_rows);
    for (size_t i = 0; i < initial.size(); ++i) initial[i] = uint8_t(i * 7 + 1);
    for (size_t i = 0; i < initial.size(); ++i)
      if (i < first * row || i >= (first + rows) * row) expected[i] = initial[i];
    auto& d = device();
    auto cache = d.alloc(type, n, cache_rows);
    d.write(cache, initial.data());
    d.store_kv(upload(src, n), cache, first);
    std::vector<uint8_t> got(row * cache_rows);
    d.read(cache, got.data());
    d.sync();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(int(got[i]), int(expected[i])) << dtype_name(type) << " byte " << i << " (row " << i / row << ")";
    d.free(cache);
  }
}

// Mat-vec (1-3 rows) and tiled (4 or more, with partial 8 x 8 tiles). The
// quantized types sum per-block contributions in the reference's order with
// the same float operations: their results are the reference's bits.
// Paged: tokens of two sequences land in their blocks' rows (16-row
// blocks), as the reference stores them row by row.
TEST(VulkanOps, StoreKvPagedPutsEachTokenInItsSlot) {
  for (DType type : {DType::F16, DType::Q8_0, DType::Q4_0}) {
    const int64_t n = 96, cache_rows = 64;
    const int shift = 4;
    const std::vector<int32_t> positions = {14, 15, 16, 3, 40};
    const std::vector<std::vector<int32_t>> tables = {{2, 0, 3}, {2, 0, 3}, {2, 0, 3}, {1}, {3, 2, 1}};
    const size_t row = row_bytes(type, n);
    auto src = random_floats(positions.size() * n, 50);
    std::vector<uint8_t> expected(row * cache_rows, 0);
    auto ref = reference(8, n);
    for (size_t i = 0; i < positions.size(); ++i) {
      const int64_t slot = (int64_t(tables[i][positions[i] >> shift]) << shift) | (positions[i] & 15);
      ref->store_kv(src.data() + i * n, 1, n, KvView{type, expected.data(), row}, slot);
    }
    auto& d = device();
    std::vector<int32_t> flat(positions.size() * 3, 0);
    for (size_t i = 0; i < positions.size(); ++i) std::copy(tables[i].begin(), tables[i].end(), flat.begin() + i * 3);
    DeviceKvSlots slots{upload_ids(positions), d.alloc(DType::I32, 3, int64_t(positions.size())), shift};
    d.write(slots.block_tables, flat.data());
    auto cache = d.alloc(type, n, cache_rows);
    d.write(cache, std::vector<uint8_t>(row * cache_rows, 0).data());
    d.store_kv_paged(upload(src, n), cache, slots);
    std::vector<uint8_t> got(row * cache_rows);
    d.read(cache, got.data());
    d.sync();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(int(got[i]), int(expected[i])) << dtype_name(type) << " byte " << i << " (row " << i / row << ")";
    d.free(cache);
  }
}

TEST(VulkanOps, MatmulEveryTypeMatchesReference) {
  for (DType type : kWeightTypes) {
    const int64_t n_in = is_float(type) ? 97 : is_super_block(type) ? 768 : 224, n_out = 13;
    auto w = make_weight(type, n_in, n_out, 10);
    auto& d = device();
    auto wt = d.upload_weight(w.w);
    for (int64_t rows : {1, 3, 5, 19}) {
      auto x = random_floats(rows * n_in, 11 + uint32_t(rows), 2.0f);
      std::vector<float> expected(rows * n_out);
      reference(rows, n_in)->matmul(w.w, x.data(), rows, expected.data());
      auto y = d.alloc(DType::F32, n_out, rows);
      d.matmul(wt, upload(x, n_in), y);
      const std::string what = fmt::format("matmul {} rows {}", dtype_name(type), rows);
      if (is_float(type))
        expect_close(download(y), expected, 2e-6, what);  // the reference sums in double
      else
        expect_equal(download(y), expected, what);
      d.free(y);
    }
    d.free(wt);
  }
}

// A row's result does not depend on how many rows are multiplied with it
// (mat-vec for one, tiles for many): bit for bit, every type.
TEST(VulkanOps, MatmulIsBatchInvariant) {
  for (DType type : kWeightTypes) {
    const int64_t n_in = is_float(type) ? 70 : is_super_block(type) ? 512 : 96, n_out = 21, rows = 11;
    auto w = make_weight(type, n_in, n_out, 12);
    auto& d = device();
    auto wt = d.upload_weight(w.w);
    auto x = upload(random_floats(rows * n_in, 13), n_in);
    auto all = d.alloc(DType::F32, n_out, rows);
    d.matmul(wt, x, all);
    const auto batch = download(all);
    for (int64_t r : {0, 6, 10}) {
      auto one = d.alloc(DType::F32, n_out, 1);
      d.matmul(wt, x.row_range(r, 1), one);
      const auto single = download(one);
      const std::vector<float> row(batch.begin() + r * n_out, batch.begin() + (r + 1) * n_out);
      expect_equal(single, row, fmt::format("{} row {} alone vs in a batch of {}", dtype_name(type), r, rows));
      d.free(one);
    }
    d.free(wt);
  }
}

}  // namespace

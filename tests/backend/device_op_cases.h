// The DeviceBackend op cases, parameterized by the backend under test
// (DeviceUnderTest): every op against the scalar reference backend (one
// thread, the ref kernels) at odd sizes. Exact where the op is exact on the
// host (conversions, quantizers, dequantization), within float-rounding
// tolerance where sums change order. Included by exactly one source file of
// each test program, which instantiates DeviceOps with its backends:
// tests/backend/cpu_device_test.cpp ("cpu", always) and
// tests/backend_vulkan/ops_vulkan_test.cpp ("lavapipe", the first Vulkan device).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "backend/device_test_util.h"

namespace hearth::device_test {

using namespace hearth::backend;

class DeviceOps : public testing::TestWithParam<DeviceUnderTest> {
 protected:
  DeviceBackend& dev() const { return GetParam().get(); }
};


inline std::unique_ptr<Backend> reference(int64_t rows, int64_t n) {
  auto ref = make_ref_backend();
  ref->reserve(rows, n, 64, 64);
  return ref;
}

using test::TestWeight;

// One matrix of `type` from random values.
inline TestWeight make_weight(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  return test::make_test_weight(type, n_in, n_out, 1, seed);
}

// Every weight type hearth reads (the 15 of issue 13).
inline const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                              DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                              DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

inline bool is_float(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }
inline bool is_super_block(DType type) { return dtype_info(type).block_size == 256; }
// An odd row length for the type: 45 floats, 5 blocks of 32, 3 of 256.
inline int64_t odd_width(DType type) { return is_float(type) ? 45 : is_super_block(type) ? 768 : 160; }

TEST_P(DeviceOps, ElementwiseMatchReference) {
  auto& d = dev();
  const int64_t rows = 3, n = 97;
  auto y0 = random_floats(rows * n, 1, 3.0f), x = random_floats(rows * n, 2), bias = random_floats(n, 3);
  auto ref = reference(rows, n);

  auto expected = y0;
  ref->add(expected.data(), x.data(), rows * n);
  auto y = upload(d, y0, n);
  d.add(y, upload(d, x, n));
  expect_equal(download(d, y), expected, "add");

  ref->add_rows(expected.data(), bias.data(), rows, n);
  d.add_rows(y, upload(d, bias, n));
  expect_equal(download(d, y), expected, "add_rows");

  ref->scale(expected.data(), 0.37f, rows * n);
  d.scale(y, 0.37f);
  expect_equal(download(d, y), expected, "scale");

  ref->softcap(expected.data(), 2.5f, rows * n);
  d.softcap(y, 2.5f);
  expect_close(download(d, y), expected, 1e-6, "softcap");

  // On a view: only the middle row changes.
  auto before = download(d, y);
  d.scale(y.row_range(1, 1), 2.0f);
  auto after = download(d, y);
  for (int64_t i = 0; i < rows * n; ++i) EXPECT_EQ(after[i], (i / n == 1) ? before[i] * 2.0f : before[i]) << i;
}

TEST_P(DeviceOps, HadamardIsTheReferenceBitForBit) {
  auto& d = dev();
  for (int block : {1, 32, 128, 4096}) {
    const int64_t n = 4096, rows = 3;
    auto x = random_floats(rows * n, 40 + uint32_t(block));
    auto expected = x;
    reference(rows, n)->hadamard(expected.data(), rows * n, block);
    auto xt = upload(d, x, n);
    d.hadamard(xt, block);
    expect_equal(download(d, xt), expected, fmt::format("hadamard block {}", block));
  }
}

TEST_P(DeviceOps, RmsNormMatchesReference) {
  auto& d = dev();
  for (bool with_weight : {false, true}) {
    const int64_t rows = 5, n = 123;
    auto x = random_floats(rows * n, 4, 2.0f), weight = random_floats(n, 5);
    std::vector<float> expected(rows * n);
    reference(rows, n)->rms_norm(x.data(), with_weight ? weight.data() : nullptr, rows, n, 1e-5f, expected.data());
    auto xt = upload(d, x, n);
    auto yt = d.alloc(DType::F32, n, rows);
    d.rms_norm(xt, with_weight ? upload(d, weight, n) : DeviceTensor{}, 1e-5f, yt);
    expect_close(download(d, yt), expected, 2e-6, fmt::format("rms_norm weight {}", with_weight));
    d.rms_norm(xt, DeviceTensor{}, 1e-5f, xt);  // in place
  }
}

TEST_P(DeviceOps, RopeMatchesReference) {
  auto& d = dev();
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
    auto xt = upload(d, x, n_heads * head_dim);
    DeviceRope rope{p, c.freq_factors ? upload(d, factors, int64_t(factors.size())) : DeviceTensor{}};
    d.rope(xt, n_heads, head_dim, upload_ids(d, positions), rope);
    // Large angles: cos/sin of the same float angle, reduced on the device.
    expect_close(download(d, xt), expected, 2e-5,
                 fmt::format("rope mode {} dims {} factors {} yarn {}", int(c.mode), c.n_dims, c.freq_factors, c.yarn));
  }
}

TEST_P(DeviceOps, GatedActivationsMatchReference) {
  auto& d = dev();
  const int64_t rows = 4, n = 77;
  // gate and up are the two halves of one fused [rows][2n] projection.
  auto fused = random_floats(rows * 2 * n, 7, 3.0f);
  for (Activation act : {Activation::Silu, Activation::GeluTanh}) {
    std::vector<float> expected(rows * n);
    reference(rows, 2 * n)->gated_activation(act, fused.data(), fused.data() + n, 2 * n, rows, n, expected.data());
    auto ft = upload(d, fused, 2 * n);
    auto out = d.alloc(DType::F32, n, rows);
    d.gated_activation(act, ft.columns(0, n), ft.columns(n, n), out);
    // GELU rounds its result to f16: a tanh an ulp apart can move it one f16 step.
    expect_close(download(d, out), expected, act == Activation::Silu ? 1e-6 : 1e-3,
                 act == Activation::Silu ? "silu" : "gelu");
  }
}

TEST_P(DeviceOps, GetRowsEveryTypeExactly) {
  auto& d = dev();
  for (DType type : kWeightTypes) {
    const int64_t n = odd_width(type);
    auto table = make_weight(type, n, 11, 8);
    const std::vector<int32_t> ids = {3, 0, 10, 3, 7};
    std::vector<float> expected(ids.size() * n);
    reference(8, n)->get_rows(table.w, ids.data(), int64_t(ids.size()), expected.data());
    auto tt = d.upload_weight(table.w);
    auto out = d.alloc(DType::F32, n, int64_t(ids.size()));
    d.get_rows(tt, upload_ids(d, ids), out);
    expect_equal(download(d, out), expected, fmt::format("get_rows {}", dtype_name(type)));
    d.free(tt);
  }
}

TEST_P(DeviceOps, StoreKvBytesMatchReference) {
  auto& d = dev();
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
    auto cache = d.alloc(type, n, cache_rows);
    d.write(cache, initial.data());
    d.store_kv(upload(d, src, n), cache, first);
    std::vector<uint8_t> got(row * cache_rows);
    d.read(cache, got.data());
    d.sync();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(int(got[i]), int(expected[i])) << dtype_name(type) << " byte " << i << " (row " << i / row << ")";
    d.free(cache);
  }
}

// Paged: tokens of two sequences land in their blocks' rows (16-row
// blocks), as the reference stores them row by row.
TEST_P(DeviceOps, StoreKvPagedPutsEachTokenInItsSlot) {
  auto& d = dev();
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
    std::vector<int32_t> flat(positions.size() * 3, 0);
    for (size_t i = 0; i < positions.size(); ++i) std::copy(tables[i].begin(), tables[i].end(), flat.begin() + i * 3);
    DeviceKvSlots slots{upload_ids(d, positions), d.alloc(DType::I32, 3, int64_t(positions.size())), shift};
    d.write(slots.block_tables, flat.data());
    auto cache = d.alloc(type, n, cache_rows);
    d.write(cache, std::vector<uint8_t>(row * cache_rows, 0).data());
    d.store_kv_paged(upload(d, src, n), cache, slots);
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
TEST_P(DeviceOps, MatmulEveryTypeMatchesReference) {
  auto& d = dev();
  for (DType type : kWeightTypes) {
    const int64_t n_in = is_float(type) ? 97 : is_super_block(type) ? 768 : 224, n_out = 13;
    auto w = make_weight(type, n_in, n_out, 10);
    auto wt = d.upload_weight(w.w);
    for (int64_t rows : {1, 3, 5, 19}) {
      auto x = random_floats(rows * n_in, 11 + uint32_t(rows), 2.0f);
      std::vector<float> expected(rows * n_out);
      reference(rows, n_in)->matmul(w.w, x.data(), rows, expected.data());
      auto y = d.alloc(DType::F32, n_out, rows);
      d.matmul(wt, upload(d, x, n_in), y);
      const std::string what = fmt::format("matmul {} rows {}", dtype_name(type), rows);
      if (is_float(type))
        expect_close(download(d, y), expected, 2e-6, what);  // the reference sums in double
      else if (GetParam().reference_order)
        expect_equal(download(d, y), expected, what);
      else
        expect_close(download(d, y), expected, 1e-4, what);
      d.free(y);
    }
    d.free(wt);
  }
}

// A row's result does not depend on how many rows are multiplied with it
// (mat-vec for one, tiles for many): bit for bit, every type, on a backend
// that promises it (DeviceUnderTest::batch_invariant).
TEST_P(DeviceOps, MatmulIsBatchInvariant) {
  auto& d = dev();
  for (DType type : kWeightTypes) {
    const int64_t n_in = is_float(type) ? 70 : is_super_block(type) ? 512 : 96, n_out = 21, rows = 11;
    auto w = make_weight(type, n_in, n_out, 12);
    auto wt = d.upload_weight(w.w);
    auto x = upload(d, random_floats(rows * n_in, 13), n_in);
    auto all = d.alloc(DType::F32, n_out, rows);
    d.matmul(wt, x, all);
    const auto batch = download(d, all);
    for (int64_t r : {0, 6, 10}) {
      auto one = d.alloc(DType::F32, n_out, 1);
      d.matmul(wt, x.row_range(r, 1), one);
      const auto single = download(d, one);
      const std::vector<float> row(batch.begin() + r * n_out, batch.begin() + (r + 1) * n_out);
      const std::string what = fmt::format("{} row {} alone vs in a batch of {}", dtype_name(type), r, rows);
      if (GetParam().batch_invariant)
        expect_equal(single, row, what);
      else
        expect_close(single, row, 1e-4, what);
      d.free(one);
    }
    d.free(wt);
  }
}

// Attention (fused, online softmax) against the reference backend's fused
// attention: every KV cache type, grouped query heads, sliding windows,
// softcaps, and paged caches read through block tables.
struct AttentionCase {
  DType k, v;
  int window;
  float softcap;
  bool paged;
  bool flash = true;          // false: the unfused form (f16-rounded probabilities for an f16 V)
  bool causal = true;         // false: every token sees all n_kv keys (encoders)
  bool last_visible = false;  // the tokens see up to position 44 (an image's tokens see the whole image)
  bool sinks = false;         // gpt-oss's per-head sink logits
};

inline void run_attention_case(backend::DeviceBackend& d, const AttentionCase& c) {
  const int n_head = 4, n_head_kv = 2, hd = 64;
  const int64_t width = n_head_kv * hd, cache_rows = 96;
  const int shift = 4;  // 16-row blocks when paged
  // Paged: two sequences, their blocks scattered over the pool.
  const std::vector<int32_t> table_a = {3, 0, 5}, table_b = {1, 4};
  std::vector<int32_t> positions;
  std::vector<const int32_t*> tables;
  if (c.paged) {
    positions = {30, 31, 32, 20, 21};
    tables = {table_a.data(), table_a.data(), table_a.data(), table_b.data(), table_b.data()};
  } else {
    positions = {40, 41, 42, 43, 44};
  }
  const int64_t n_tokens = int64_t(positions.size()), n_kv = c.paged ? 33 : 45;

  auto ref = make_ref_backend();
  ref->reserve(cache_rows, width, cache_rows, hd);
  // Both sides get the same cache bytes (stored by the reference).
  const size_t k_row = row_bytes(c.k, width), v_row = row_bytes(c.v, width);
  std::vector<uint8_t> k_bytes(k_row * cache_rows), v_bytes(v_row * cache_rows);
  const auto k_values = random_floats(size_t(cache_rows * width), 21);
  const auto v_values = random_floats(size_t(cache_rows * width), 22);
  ref->store_kv(k_values.data(), cache_rows, width, KvView{c.k, k_bytes.data(), k_row}, 0);
  ref->store_kv(v_values.data(), cache_rows, width, KvView{c.v, v_bytes.data(), v_row}, 0);
  const auto q = random_floats(size_t(n_tokens * n_head * hd), 23);
  // Paged: each sequence's tokens see up to its last position (32, 21).
  const std::vector<int32_t> visible =
      c.paged ? std::vector<int32_t>{32, 32, 32, 21, 21} : std::vector<int32_t>(size_t(n_tokens), 44);
  const std::vector<float> sinks = {0.5f, -1.0f, 2.0f, 0.0f};

  AttentionParams p;
  p.q = q.data();
  p.positions = positions.data();
  p.block_tables = c.paged ? tables.data() : nullptr;
  p.kv_block_shift = c.paged ? shift : 0;
  p.n_tokens = n_tokens;
  p.k = KvView{c.k, k_bytes.data(), k_row};
  p.v = KvView{c.v, v_bytes.data(), v_row};
  p.n_kv = n_kv;
  p.n_head = n_head;
  p.n_head_kv = n_head_kv;
  p.head_dim = hd;
  p.scale = 0.125f;
  p.softcap = c.softcap;
  p.sliding_window = c.window;
  p.flash = c.flash;
  p.causal = c.causal;
  p.last_visible = c.last_visible ? visible.data() : nullptr;
  p.sinks = c.sinks ? sinks.data() : nullptr;
  std::vector<float> expected(n_tokens * n_head * hd);
  p.out = expected.data();
  ref->attention(p);

  DeviceAttention a;
  a.q = upload(d, q, n_head * hd);
  a.positions = upload_ids(d, positions);
  if (c.paged) {
    const int max_blocks = 3;
    std::vector<int32_t> flat(n_tokens * max_blocks, 0);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto& table = tables[t] == table_a.data() ? table_a : table_b;
      for (size_t b = 0; b < table.size(); ++b) flat[t * max_blocks + b] = table[b];
    }
    a.block_tables = d.alloc(DType::I32, max_blocks, n_tokens);
    d.write(a.block_tables, flat.data());
    a.kv_block_shift = shift;
  }
  a.k = d.alloc(c.k, width, cache_rows);
  a.v = d.alloc(c.v, width, cache_rows);
  d.write(a.k, k_bytes.data());
  d.write(a.v, v_bytes.data());
  static_cast<AttentionShape&>(a) = p;
  if (c.last_visible) a.last_visible = upload_ids(d, visible);
  if (c.sinks) a.sinks = upload(d, sinks, n_head);
  a.out = d.alloc(DType::F32, n_head * hd, n_tokens);
  d.attention(a);
  // Unfused, a probability may round to the neighbouring f16 value when its
  // sum was taken in another order: one f16 step (2^-11 relative) of a value.
  expect_close(download(d, a.out), expected, c.flash ? 5e-5 : 1e-3,
               fmt::format("attention K {} V {} window {} softcap {} paged {} flash {} causal {} last_visible {} sinks {}",
                           dtype_name(c.k), dtype_name(c.v), c.window, c.softcap, c.paged, c.flash, c.causal,
                           c.last_visible, c.sinks));
  for (const auto& t : {a.q, a.positions, a.block_tables, a.k, a.v, a.out, a.last_visible, a.sinks})
    if (!t.empty()) d.free(t);
}

TEST_P(DeviceOps, AttentionEveryCacheTypeMatchesReference) {
  auto& d = dev();
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0})
    run_attention_case(d, {type, type, 0, 0.0f, false});
  run_attention_case(d, {DType::Q8_0, DType::F16, 0, 0.0f, false});  // K and V of different types
  run_attention_case(d, {DType::F16, DType::Q4_0, 0, 0.0f, false});
}

TEST_P(DeviceOps, AttentionSlidingWindowAndSoftcap) {
  auto& d = dev();
  run_attention_case(d, {DType::F16, DType::F16, 7, 0.0f, false});
  run_attention_case(d, {DType::F16, DType::F16, 0, 1.5f, false});
  run_attention_case(d, {DType::Q8_0, DType::Q8_0, 5, 1.5f, false});
}

TEST_P(DeviceOps, AttentionPagedBlockTables) {
  auto& d = dev();
  run_attention_case(d, {DType::F16, DType::F16, 0, 0.0f, true});
  run_attention_case(d, {DType::Q4_0, DType::Q8_0, 0, 0.0f, true});
  run_attention_case(d, {DType::F16, DType::F16, 9, 1.5f, true});
}

// ggml's unfused attention (--fa off): probabilities rounded to f16 for an
// f16 V, every cache type, windows, softcaps and pages.
TEST_P(DeviceOps, AttentionUnfusedMatchesReference) {
  auto& d = dev();
  for (DType type : {DType::F32, DType::F16, DType::BF16})
    run_attention_case(d, {type, type, 0, 0.0f, false, /*flash=*/false});
  run_attention_case(d, {DType::Q8_0, DType::F16, 7, 0.0f, false, false});
  run_attention_case(d, {DType::F16, DType::F16, 9, 1.5f, true, false});
}

// Encoders (no causal mask), image tokens that see their whole image
// (last_visible), and gpt-oss's sinks, fused and unfused.
TEST_P(DeviceOps, AttentionNonCausalLastVisibleAndSinks) {
  auto& d = dev();
  for (bool flash : {true, false}) {
    run_attention_case(d, {DType::F16, DType::F16, 0, 0.0f, false, flash, /*causal=*/false});
    run_attention_case(d, {DType::F32, DType::F32, 0, 0.0f, false, flash, true, /*last_visible=*/true});
    run_attention_case(d, {DType::F16, DType::F16, 0, 0.0f, true, flash, true, true});
    run_attention_case(d, {DType::F16, DType::F16, 0, 0.0f, false, flash, true, false, /*sinks=*/true});
    run_attention_case(d, {DType::F16, DType::F16, 5, 0.0f, true, flash, true, false, true});
  }
}

// copy_rows: a KV block's rows into another block, and a strided view (Q
// out of a fused QKV) into contiguous rows, byte for byte.
TEST_P(DeviceOps, CopyRowsIsExact) {
  auto& d = dev();
  const int64_t rows = 7, width = 96;
  for (DType type : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const size_t row = row_bytes(type, width);
    std::vector<uint8_t> bytes(row * rows * 2);
    const auto values = random_floats(size_t(width * rows * 2), 41);
    for (int64_t r = 0; r < rows * 2; ++r) ref::quantize_row(type, values.data() + r * width, bytes.data() + r * row, width);
    auto cache = d.alloc(type, width, rows * 2);
    d.write(cache, bytes.data());
    d.copy_rows(cache.row_range(1, 3), cache.row_range(9, 3));
    std::vector<uint8_t> got(bytes.size());
    d.read(cache, got.data());
    d.sync();
    std::memcpy(bytes.data() + 9 * row, bytes.data() + 1 * row, 3 * row);
    EXPECT_EQ(got, bytes) << dtype_name(type);
    d.free(cache);
  }
  const auto fused = random_floats(size_t(rows * 3 * 32), 42);
  auto qkv = upload(d, fused, 3 * 32);
  auto k = d.alloc(DType::F32, 32, rows);
  d.copy_rows(qkv.columns(32, 32), k);
  const auto got = download(d, k);
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < 32; ++i) EXPECT_EQ(got[r * 32 + i], fused[r * 96 + 32 + i]) << "row " << r;
  d.free(qkv);
  d.free(k);
}

// MoE: the routing (softmax, top-k, renormalization) against its textbook
// definition computed here in double, and the expert FFN against the
// reference backend's moe_ffn.
TEST_P(DeviceOps, MoeRoutingPicksTheMostProbableExperts) {
  auto& d = dev();
  const int64_t rows = 5, n_expert = 40;
  const int n_used = 3;
  auto logits = random_floats(rows * n_expert, 31, 2.0f);
  logits[2 * n_expert + 7] = logits[2 * n_expert + 9] = 9.0f;  // a tie: the lower index first
  for (bool normalize : {false, true}) {
    auto ids = d.alloc(DType::I32, n_used, rows);
    auto weights = d.alloc(DType::F32, n_used, rows);
    d.moe_route(upload(d, logits, n_expert), n_used, normalize ? MoeGating::SoftmaxNormalized : MoeGating::Softmax,
                ids, weights);
    std::vector<int32_t> got_ids(rows * n_used);
    d.read(ids, got_ids.data());
    const auto got_weights = download(d, weights);
    for (int64_t r = 0; r < rows; ++r) {
      const float* l = logits.data() + r * n_expert;
      const double max_logit = *std::max_element(l, l + n_expert);
      std::vector<double> probs(n_expert);
      double sum = 0;
      for (int e = 0; e < n_expert; ++e) sum += probs[e] = std::exp(l[e] - max_logit);
      std::vector<int> order(n_expert);
      for (int e = 0; e < n_expert; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
      double total = 0;
      for (int k = 0; k < n_used; ++k) total += probs[order[k]] / sum;
      for (int k = 0; k < n_used; ++k) {
        EXPECT_EQ(got_ids[r * n_used + k], order[k]) << "row " << r << " slot " << k;
        const double expected = probs[order[k]] / sum / (normalize ? total : 1.0);
        EXPECT_NEAR(got_weights[r * n_used + k], expected, 1e-6) << "row " << r << " slot " << k;
      }
    }
    EXPECT_EQ(got_ids[2 * n_used], 7);
    EXPECT_EQ(got_ids[2 * n_used + 1], 9);
    d.free(ids);
    d.free(weights);
  }
}

// gpt-oss's routing: the top-k logits (ties to the lower index), then the
// softmax of just those.
TEST_P(DeviceOps, MoeRoutingSoftmaxOfTopK) {
  auto& d = dev();
  const int64_t rows = 4, n_expert = 32;
  const int n_used = 4;
  auto logits = random_floats(rows * n_expert, 36, 3.0f);
  logits[1 * n_expert + 3] = logits[1 * n_expert + 30] = 8.0f;
  auto ids = d.alloc(DType::I32, n_used, rows);
  auto weights = d.alloc(DType::F32, n_used, rows);
  d.moe_route(upload(d, logits, n_expert), n_used, MoeGating::SoftmaxOfTopK, ids, weights);
  std::vector<int32_t> got_ids(rows * n_used);
  d.read(ids, got_ids.data());
  const auto got_weights = download(d, weights);
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits.data() + r * n_expert;
    std::vector<int> order(n_expert);
    for (int e = 0; e < n_expert; ++e) order[e] = e;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
    double sum = 0;
    for (int k = 0; k < n_used; ++k) sum += std::exp(double(l[order[k]]) - l[order[0]]);
    for (int k = 0; k < n_used; ++k) {
      EXPECT_EQ(got_ids[r * n_used + k], order[k]) << "row " << r << " slot " << k;
      EXPECT_NEAR(got_weights[r * n_used + k], std::exp(double(l[order[k]]) - l[order[0]]) / sum, 1e-6);
    }
  }
  EXPECT_EQ(got_ids[1 * n_used], 3);
  EXPECT_EQ(got_ids[1 * n_used + 1], 30);
  d.free(ids);
  d.free(weights);
}

TEST_P(DeviceOps, MoeExpertFfnMatchesReference) {
  auto& d = dev();
  const int64_t n_embd = 64, n_ff = 96, rows = 3, n_expert = 4;
  const int n_used = 2;
  for (DType type : {DType::F32, DType::Q8_0, DType::Q4_1}) {
    auto make_stack = [&](int64_t n_in, int64_t n_out, uint32_t seed) {
      std::vector<uint8_t> bytes(row_bytes(type, n_in) * n_out * n_expert);
      auto values = random_floats(size_t(n_in * n_out * n_expert), seed, 0.3f);
      for (int64_t r = 0; r < n_out * n_expert; ++r)
        ref::quantize_row(type, values.data() + r * n_in, bytes.data() + r * row_bytes(type, n_in), n_in);
      return bytes;
    };
    auto gate_bytes = make_stack(n_embd, n_ff, 32), up_bytes = make_stack(n_embd, n_ff, 33),
         down_bytes = make_stack(n_ff, n_embd, 34);
    const Weight gate{type, gate_bytes.data(), n_embd, n_ff, n_expert, row_bytes(type, n_embd)};
    const Weight up{type, up_bytes.data(), n_embd, n_ff, n_expert, row_bytes(type, n_embd)};
    const Weight down{type, down_bytes.data(), n_ff, n_embd, n_expert, row_bytes(type, n_ff)};
    const auto x = random_floats(rows * n_embd, 35);
    const std::vector<int32_t> ids = {3, 0, 1, 3, 2, 1};  // expert 3 twice, expert 1 twice
    const std::vector<float> weights = {0.7f, 0.3f, 0.55f, 0.45f, 0.9f, 0.1f};

    auto ref = make_ref_backend();
    ref->reserve(rows * n_used, n_ff, 16, 64);
    MoeParams p;
    p.x = x.data();
    p.rows = rows;
    p.expert_ids = ids.data();
    p.expert_weights = weights.data();
    p.n_used = n_used;
    p.gate = gate;
    p.up = up;
    p.down = down;
    std::vector<float> expected(rows * n_embd);
    p.out = expected.data();
    ref->moe_ffn(p);

    DeviceMoe m;
    m.x = upload(d, x, n_embd);
    m.ids = d.alloc(DType::I32, n_used, rows);
    d.write(m.ids, ids.data());
    m.weights = upload(d, weights, n_used);
    m.gate = d.upload_weight(gate);
    m.up = d.upload_weight(up);
    m.down = d.upload_weight(down);
    m.n_expert = int(n_expert);
    m.out = d.alloc(DType::F32, n_embd, rows);
    d.moe_ffn(m);
    expect_close(download(d, m.out), expected, 2e-6, fmt::format("moe_ffn {}", dtype_name(type)));
    for (const auto& t : {m.x, m.ids, m.weights, m.gate, m.up, m.down, m.out}) d.free(t);
  }
}

}  // namespace hearth::device_test

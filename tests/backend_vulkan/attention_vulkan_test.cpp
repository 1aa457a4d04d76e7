// Vulkan attention (fused, online softmax) against the reference backend's
// fused attention: every KV cache type, grouped query heads, sliding
// windows, softcaps, and paged caches read through block tables.
#include <fmt/format.h>

#include "backend/backend.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;

namespace {

struct Case {
  DType k, v;
  int window;
  float softcap;
  bool paged;
};

void run_case(const Case& c) {
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
  p.flash = true;
  std::vector<float> expected(n_tokens * n_head * hd);
  p.out = expected.data();
  ref->attention(p);

  auto& d = device();
  DeviceAttention a;
  a.q = upload(q, n_head * hd);
  a.positions = upload_ids(positions);
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
  a.n_kv = n_kv;
  a.n_head = n_head;
  a.n_head_kv = n_head_kv;
  a.head_dim = hd;
  a.scale = 0.125f;
  a.softcap = c.softcap;
  a.sliding_window = c.window;
  a.out = d.alloc(DType::F32, n_head * hd, n_tokens);
  d.attention(a);
  expect_close(download(a.out), expected, 5e-5,
               fmt::format("attention K {} V {} window {} softcap {} paged {}", dtype_name(c.k), dtype_name(c.v),
                           c.window, c.softcap, c.paged));
  for (const auto& t : {a.q, a.positions, a.block_tables, a.k, a.v, a.out}) d.free(t);
}

TEST(VulkanAttention, EveryCacheTypeMatchesReference) {
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0})
    run_case({type, type, 0, 0.0f, false});
  run_case({DType::Q8_0, DType::F16, 0, 0.0f, false});  // K and V of different types
  run_case({DType::F16, DType::Q4_0, 0, 0.0f, false});
}

TEST(VulkanAttention, SlidingWindowAndSoftcap) {
  run_case({DType::F16, DType::F16, 7, 0.0f, false});
  run_case({DType::F16, DType::F16, 0, 1.5f, false});
  run_case({DType::Q8_0, DType::Q8_0, 5, 1.5f, false});
}

TEST(VulkanAttention, PagedBlockTables) {
  run_case({DType::F16, DType::F16, 0, 0.0f, true});
  run_case({DType::Q4_0, DType::Q8_0, 0, 0.0f, true});
  run_case({DType::F16, DType::F16, 9, 1.5f, true});
}

}  // namespace

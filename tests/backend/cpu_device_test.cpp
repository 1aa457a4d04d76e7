// The CPU DeviceBackend: the shared DeviceBackend op cases against the
// scalar reference (as the Vulkan backend is tested), and its results
// against the host CPU Backend's, which must be the same bits: it runs the
// same kernels (packed weights, thread pool, tiled attention).
#include <fmt/format.h>

#include "backend/cpu/kernels.h"
#include "backend/decoder_step.h"
#include "backend/device_op_cases.h"
#include "core/error.h"

namespace hearth::device_test {
namespace {

// The kernels this CPU picks, on two threads; and the scalar ones on one
// (the reference's own kernels, so every case is exact as on Vulkan).
DeviceBackend& cpu_device() {
  static std::unique_ptr<DeviceBackend> backend = make_cpu_device_backend(2);
  return *backend;
}
DeviceBackend& scalar_cpu_device() {
  static std::unique_ptr<DeviceBackend> backend = make_cpu_device_backend(1, "scalar");
  return *backend;
}

INSTANTIATE_TEST_SUITE_P(Cpu, DeviceOps,
                         testing::Values(DeviceUnderTest{"cpu", &cpu_device, false, false},
                                         DeviceUnderTest{"cpu_scalar", &scalar_cpu_device, true}),
                         device_name);

// The ISAs this CPU can run.
std::vector<std::string> runnable_isas() {
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  std::vector<std::string> out = {"scalar"};
  if (f.has_avx2_set()) out.push_back("avx2");
  if (f.has_avx512_set()) out.push_back("avx512");
  return out;
}

TEST(CpuDevice, DecoderStepIsTheHostBackendBitForBit) {
  for (const std::string& isa : runnable_isas()) {
    DecoderStep step;
    auto host = make_cpu_backend(2, isa);
    const std::vector<float> expected = step.on_host(*host, true);
    auto d = make_cpu_device_backend(2, isa);
    DeviceCounters counted;
    const std::vector<float> got = step.on_device(*d, &counted);
    expect_equal(got, expected, "logits of the last token, " + isa);
    // Ops run at the call: nothing is submitted or waited for; the inputs
    // and the one logits row are the only copies.
    EXPECT_EQ(counted.submits, 0u);
    EXPECT_EQ(counted.waits, 0u);
    EXPECT_EQ(counted.uploads, 2u);
    EXPECT_EQ(counted.upload_bytes, 2u * DecoderStep::kTokens * 4);
    EXPECT_EQ(counted.downloads, 1u);
    EXPECT_EQ(counted.download_bytes, uint64_t(DecoderStep::kVocab) * 4);
    EXPECT_EQ(counted.dispatches, DecoderStep::kOps);
  }
}

// Sizes large enough for the thread pool and the packed and tiled paths
// (n_out not a multiple of 8: the packed tail; 1 row and a batch).
TEST(CpuDevice, MatmulIsTheHostBackendBitForBit) {
  for (const std::string& isa : runnable_isas()) {
    auto host = make_cpu_backend(2, isa);
    auto d = make_cpu_device_backend(2, isa);
    for (DType type : {DType::F16, DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
      const int64_t n_in = 512, n_out = 260;
      auto w = make_weight(type, n_in, n_out, 60);
      auto packed = host->pack(w.w);
      Weight host_w = w.w;
      host_w.packed = packed.get();
      const DeviceTensor wt = d->upload_weight(w.w);
      for (int64_t rows : {1, 7, 70}) {
        host->reserve(rows, n_in, 16, 64);
        const auto x = random_floats(size_t(rows * n_in), 61 + uint32_t(rows));
        std::vector<float> expected(size_t(rows * n_out));
        host->matmul(host_w, x.data(), rows, expected.data());
        const DeviceTensor y = d->alloc(DType::F32, n_out, rows);
        d->matmul(wt, upload(*d, x, n_in), y);
        expect_equal(download(*d, y), expected, fmt::format("{} {} rows {}", isa, dtype_name(type), rows));
      }
    }
  }
}

// Two sequences in a paged cache, grouped heads, a quantized K and an f16 V,
// enough tokens and keys for the tiled path on several threads; Q is the
// first third of a fused QKV projection (a strided view).
TEST(CpuDevice, AttentionIsTheHostBackendBitForBit) {
  const int n_head = 8, n_head_kv = 2, hd = 64, shift = 4;
  const int64_t width = int64_t(n_head) * hd, kv_width = int64_t(n_head_kv) * hd, cache_rows = 512;
  const std::vector<int32_t> table_a = {5, 0, 7, 2, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 1, 3, 4, 6},
                             table_b = {8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<int32_t> positions;
  std::vector<const int32_t*> tables;
  for (int32_t p = 290; p < 310; ++p) positions.push_back(p), tables.push_back(table_a.data());
  for (int32_t p = 180; p < 190; ++p) positions.push_back(p), tables.push_back(table_b.data());
  const int64_t n_tokens = int64_t(positions.size()), n_kv = 310;
  for (const std::string& isa : runnable_isas()) {
    auto host = make_cpu_backend(2, isa);
    host->reserve(cache_rows, kv_width, cache_rows, hd);
    auto d = make_cpu_device_backend(2, isa);
    for (int window : {0, 100}) {
      const size_t k_row = row_bytes(DType::Q8_0, kv_width), v_row = row_bytes(DType::F16, kv_width);
      std::vector<uint8_t> k_bytes(k_row * cache_rows), v_bytes(v_row * cache_rows);
      host->store_kv(random_floats(size_t(cache_rows * kv_width), 70).data(), cache_rows, kv_width,
                     KvView{DType::Q8_0, k_bytes.data(), k_row}, 0);
      host->store_kv(random_floats(size_t(cache_rows * kv_width), 71).data(), cache_rows, kv_width,
                     KvView{DType::F16, v_bytes.data(), v_row}, 0);
      const auto qkv = random_floats(size_t(n_tokens * 3 * width), 72);
      std::vector<float> q(size_t(n_tokens * width));
      for (int64_t t = 0; t < n_tokens; ++t)
        std::copy(qkv.begin() + t * 3 * width, qkv.begin() + t * 3 * width + width, q.begin() + t * width);

      AttentionParams p;
      p.q = q.data();
      p.positions = positions.data();
      p.block_tables = tables.data();
      p.kv_block_shift = shift;
      p.n_tokens = n_tokens;
      p.k = KvView{DType::Q8_0, k_bytes.data(), k_row};
      p.v = KvView{DType::F16, v_bytes.data(), v_row};
      p.n_kv = n_kv;
      p.n_head = n_head;
      p.n_head_kv = n_head_kv;
      p.head_dim = hd;
      p.scale = 0.125f;
      p.softcap = 30.0f;
      p.sliding_window = window;
      p.flash = true;
      std::vector<float> expected(size_t(n_tokens * width));
      p.out = expected.data();
      host->attention(p);

      DeviceAttention a;
      const DeviceTensor qkv_t = upload(*d, qkv, 3 * width);
      a.q = qkv_t.columns(0, width);
      a.positions = upload_ids(*d, positions);
      std::vector<int32_t> flat;
      for (const int32_t* table : tables) flat.insert(flat.end(), table, table + 20);
      a.block_tables = d->alloc(DType::I32, 20, n_tokens);
      d->write(a.block_tables, flat.data());
      a.kv_block_shift = shift;
      a.k = d->alloc(DType::Q8_0, kv_width, cache_rows);
      a.v = d->alloc(DType::F16, kv_width, cache_rows);
      d->write(a.k, k_bytes.data());
      d->write(a.v, v_bytes.data());
      static_cast<AttentionShape&>(a) = p;
      a.out = d->alloc(DType::F32, width, n_tokens);
      d->attention(a);
      expect_equal(download(*d, a.out), expected, fmt::format("attention {} window {}", isa, window));
    }
  }
}

// The other ops on one backend pair: the expert FFN, the norm, rope on a
// strided view, Hadamard, the gated GELU and the element-wise ops.
TEST(CpuDevice, OtherOpsAreTheHostBackendBitForBit) {
  for (const std::string& isa : runnable_isas()) {
    auto host = make_cpu_backend(2, isa);
    auto d = make_cpu_device_backend(2, isa);
    const int64_t rows = 9, n = 256, n_ff = 512, n_expert = 4;
    const int n_used = 2;
    host->reserve(rows * n_used, n_ff, 16, 64);
    auto x = random_floats(size_t(rows * n), 80, 2.0f);
    const std::string where = "on " + isa;

    std::vector<float> expected(x.size());
    const auto norm = random_floats(size_t(n), 81);
    host->rms_norm(x.data(), norm.data(), rows, n, 1e-5f, expected.data());
    const DeviceTensor xt = upload(*d, x, n), yt = d->alloc(DType::F32, n, rows);
    d->rms_norm(xt, upload(*d, norm, n), 1e-5f, yt);
    expect_equal(download(*d, yt), expected, "rms_norm " + where);

    // rope on the second half of each row (a strided view), 4 heads of 32.
    RopeParams rp;
    rp.mode = RopeParams::Mode::Neox;
    rp.n_dims = 32;
    std::vector<int32_t> positions(rows);
    for (int64_t r = 0; r < rows; ++r) positions[r] = int32_t(r * 37 + 3);
    std::vector<float> halves(size_t(rows * 128));
    for (int64_t r = 0; r < rows; ++r) std::copy(&x[r * n + 128], &x[r * n + 256], &halves[r * 128]);
    host->rope(halves.data(), rows, 4, 32, positions.data(), rp);
    d->rope(xt.columns(128, 128), 4, 32, upload_ids(*d, positions), DeviceRope{rp, {}});
    const auto roped = download(*d, xt);
    for (int64_t r = 0; r < rows; ++r) {
      expect_equal(std::vector<float>(&roped[r * n], &roped[r * n + 128]),
                   std::vector<float>(&x[r * n], &x[r * n + 128]), "rope leaves the first half " + where);
      expect_equal(std::vector<float>(&roped[r * n + 128], &roped[r * n + 256]),
                   std::vector<float>(&halves[r * 128], &halves[(r + 1) * 128]), "rope " + where);
    }

    expected = x;
    host->hadamard(expected.data(), rows * n, 64);
    host->softcap(expected.data(), 3.0f, rows * n);
    host->scale(expected.data(), 0.7f, rows * n);
    host->add_rows(expected.data(), norm.data(), rows, n);
    host->add(expected.data(), x.data(), rows * n);
    const DeviceTensor et = upload(*d, x, n);
    d->hadamard(et, 64);
    d->softcap(et, 3.0f);
    d->scale(et, 0.7f);
    d->add_rows(et, upload(*d, norm, n));
    d->add(et, upload(*d, x, n));
    expect_equal(download(*d, et), expected, "hadamard, softcap, scale, add_rows, add " + where);

    std::vector<float> gelu(size_t(rows * 128));
    host->gated_activation(Activation::GeluTanh, x.data(), x.data() + 128, n, rows, 128, gelu.data());
    const DeviceTensor gt = d->alloc(DType::F32, 128, rows);
    d->gated_activation(Activation::GeluTanh, xt.columns(0, 128), upload(*d, x, n).columns(128, 128), gt);
    // xt's first half is unchanged by the rope above.
    expect_equal(download(*d, gt), gelu, "gelu " + where);

    auto gate = make_weight(DType::Q4_K, n, n_ff * n_expert, 82), up = make_weight(DType::Q4_K, n, n_ff * n_expert, 83),
         down = make_weight(DType::Q6_K, n_ff, n * n_expert, 84);
    for (TestWeight* w : {&gate, &up, &down}) {
      w->w.n_out /= n_expert;
      w->w.n_mat = n_expert;
    }
    std::vector<int32_t> ids(size_t(rows * n_used));
    std::vector<float> weights(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7 + i / 2) % n_expert), weights[i] = 0.1f + 0.05f * i;
    for (int64_t r = 0; r < rows; ++r)
      if (ids[r * 2] == ids[r * 2 + 1]) ids[r * 2 + 1] = (ids[r * 2] + 1) % n_expert;
    MoeParams mp;
    mp.x = x.data();
    mp.rows = rows;
    mp.expert_ids = ids.data();
    mp.expert_weights = weights.data();
    mp.n_used = n_used;
    mp.gate = gate.w;
    mp.up = up.w;
    mp.down = down.w;
    std::vector<float> moe_expected(x.size());
    mp.out = moe_expected.data();
    host->moe_ffn(mp);
    DeviceMoe m;
    m.x = upload(*d, x, n);
    m.ids = d->alloc(DType::I32, n_used, rows);
    d->write(m.ids, ids.data());
    m.weights = upload(*d, weights, n_used);
    m.gate = d->upload_weight(gate.w);
    m.up = d->upload_weight(up.w);
    m.down = d->upload_weight(down.w);
    m.n_expert = int(n_expert);
    m.out = d->alloc(DType::F32, n, rows);
    d->moe_ffn(m);
    expect_equal(download(*d, m.out), moe_expected, "moe_ffn " + where);
  }
}

TEST(CpuDevice, MisuseIsRefusedWithAMessage) {
  auto d = make_cpu_device_backend(1, "scalar");
  EXPECT_EQ(d->info().kind, DeviceKind::Cpu);
  auto w = make_weight(DType::Q8_0, 64, 8, 90);
  const DeviceTensor wt = d->upload_weight(w.w);
  const std::vector<uint8_t> bytes(wt.bytes());
  EXPECT_THROW(d->write(wt, bytes.data()), Error);  // a weight's bytes are the file's
  const DeviceTensor x = d->alloc(DType::F32, 32, 2), y = d->alloc(DType::F32, 8, 2);
  EXPECT_THROW(d->matmul(wt, x, y), Error);  // 32 inputs for a 64-wide weight
  d->free(x);
  const DeviceTensor x64 = d->alloc(DType::F32, 64, 2);
  d->free(y);
  EXPECT_THROW(d->matmul(wt, x64, y), Error);  // freed
  EXPECT_THROW(d->scale(x64.row_range(1, 2), 2.0f), Error);  // runs past its buffer
}

}  // namespace
}  // namespace hearth::device_test

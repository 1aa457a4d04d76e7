// The device-resident contract: a sequence of ops (one decoder-like step)
// is recorded and submitted once, with only its inputs going up and the one
// logits row coming back, and its result equals the reference computed op
// by op on the host. Plus device naming and selection.
#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;

namespace {

struct HostWeight {
  std::vector<uint8_t> bytes;
  Weight w;
};

HostWeight quantized(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  HostWeight h;
  const size_t row = row_bytes(type, n_in);
  h.bytes.resize(row * n_out);
  auto values = random_floats(size_t(n_in * n_out), seed, 0.3f);
  for (int64_t r = 0; r < n_out; ++r) ref::quantize_row(type, values.data() + r * n_in, h.bytes.data() + r * row, n_in);
  h.w = Weight{type, h.bytes.data(), n_in, n_out, 1, row};
  return h;
}

TEST(VulkanRecording, OneStepIsOneSubmitWithOnlyItsInputsAndLogitsCrossing) {
  const int64_t n_embd = 128, n_vocab = 67, n_ff = 96, tokens = 3;
  const int n_heads = 4, head_dim = 32;
  auto embed = quantized(DType::Q8_0, n_embd, n_vocab, 1);
  auto wq = quantized(DType::Q4_0, n_embd, n_embd, 2);
  auto gate_up = quantized(DType::Q5_0, n_embd, 2 * n_ff, 3);
  auto down = quantized(DType::Q8_0, n_ff, n_embd, 4);
  auto output = quantized(DType::Q4_1, n_embd, n_vocab, 5);
  auto norm = random_floats(n_embd, 6);
  const std::vector<int32_t> ids = {5, 66, 12};
  const std::vector<int32_t> positions = {7, 8, 9};
  RopeParams rope;
  rope.mode = RopeParams::Mode::Neox;
  rope.n_dims = head_dim;

  // The host reference, op by op.
  auto ref = make_ref_backend();
  ref->reserve(tokens, 2 * n_ff, 64, head_dim);
  std::vector<float> x(tokens * n_embd), h(tokens * n_embd), q(tokens * n_embd), gu(tokens * 2 * n_ff),
      act(tokens * n_ff), logits(tokens * n_vocab);
  std::vector<uint8_t> kv(row_bytes(DType::F16, n_embd) * 16);
  ref->get_rows(embed.w, ids.data(), tokens, x.data());
  ref->rms_norm(x.data(), norm.data(), tokens, n_embd, 1e-6f, h.data());
  ref->matmul(wq.w, h.data(), tokens, q.data());
  ref->rope(q.data(), tokens, n_heads, head_dim, positions.data(), rope);
  ref->store_kv(q.data(), tokens, n_embd, KvView{DType::F16, kv.data(), row_bytes(DType::F16, n_embd)}, 7);
  ref->matmul(gate_up.w, q.data(), tokens, gu.data());
  ref->gated_activation(Activation::Silu, gu.data(), gu.data() + n_ff, 2 * n_ff, tokens, n_ff, act.data());
  ref->matmul(down.w, act.data(), tokens, h.data());
  ref->add(x.data(), h.data(), tokens * n_embd);
  ref->matmul(output.w, x.data(), tokens, logits.data());
  const std::vector<float> expected(logits.end() - n_vocab, logits.end());

  // The device: weights and buffers set up (and synced) before the step.
  auto& d = device();
  const auto w_embed = d.upload_weight(embed.w), w_q = d.upload_weight(wq.w), w_gu = d.upload_weight(gate_up.w),
             w_down = d.upload_weight(down.w), w_out = d.upload_weight(output.w);
  const auto norm_t = upload(norm, n_embd);
  const auto ids_t = d.alloc(DType::I32, tokens, 1), pos_t = d.alloc(DType::I32, tokens, 1);
  const auto x_t = d.alloc(DType::F32, n_embd, tokens), h_t = d.alloc(DType::F32, n_embd, tokens),
             q_t = d.alloc(DType::F32, n_embd, tokens), gu_t = d.alloc(DType::F32, 2 * n_ff, tokens),
             act_t = d.alloc(DType::F32, n_ff, tokens), logits_t = d.alloc(DType::F32, n_vocab, tokens),
             cache = d.alloc(DType::F16, n_embd, 16);
  d.sync();
  const DeviceCounters before = d.counters();

  std::vector<float> got(n_vocab);
  d.write(ids_t, ids.data());
  d.write(pos_t, positions.data());
  d.get_rows(w_embed, ids_t, x_t);
  d.rms_norm(x_t, norm_t, 1e-6f, h_t);
  d.matmul(w_q, h_t, q_t);
  d.rope(q_t, n_heads, head_dim, pos_t, DeviceRope{rope, {}});
  d.store_kv(q_t, cache, 7);
  d.matmul(w_gu, q_t, gu_t);
  d.gated_activation(Activation::Silu, gu_t.columns(0, n_ff), gu_t.columns(n_ff, n_ff), act_t);
  d.matmul(w_down, act_t, h_t);
  d.add(x_t, h_t);
  d.matmul(w_out, x_t, logits_t);
  d.read(logits_t.row_range(tokens - 1, 1), got.data());  // only the row sampling needs
  d.sync();
  const DeviceCounters after = d.counters();

  EXPECT_EQ(after.submits - before.submits, 1u);
  EXPECT_EQ(after.waits - before.waits, 1u);
  EXPECT_EQ(after.uploads - before.uploads, 2u);  // token ids and positions
  EXPECT_EQ(after.upload_bytes - before.upload_bytes, 2u * tokens * 4);
  EXPECT_EQ(after.downloads - before.downloads, 1u);
  EXPECT_EQ(after.download_bytes - before.download_bytes, uint64_t(n_vocab) * 4);
  // 10 ops, and the four quantized matmuls each quantize their input first.
  EXPECT_EQ(after.dispatches - before.dispatches, 14u);
  expect_close(got, expected, 1e-4, "logits of the last token");

  // A sync with nothing recorded does not touch the queue.
  d.sync();
  EXPECT_EQ(d.counters().submits, after.submits);
}

DeviceInfo fake(const std::string& id, DeviceKind kind) {
  DeviceInfo d;
  d.id = id;
  d.name = "test " + id;
  d.kind = kind;
  return d;
}

TEST(DeviceSelection, GpusByDefaultCpuDevicesOnlyWhenNamed) {
  const std::vector<DeviceInfo> devices = {fake("vulkan0", DeviceKind::Cpu), fake("vulkan1", DeviceKind::DiscreteGpu),
                                           fake("vulkan2", DeviceKind::IntegratedGpu)};
  auto selected = select_devices(devices, "");
  ASSERT_EQ(selected.devices.size(), 2u);
  EXPECT_EQ(selected.devices[0].id, "vulkan1");
  EXPECT_EQ(selected.devices[1].id, "vulkan2");

  selected = select_devices(devices, "vulkan0");
  ASSERT_EQ(selected.devices.size(), 1u);
  EXPECT_EQ(selected.devices[0].id, "vulkan0");

  selected = select_devices(devices, "vulkan2,vulkan0");
  ASSERT_EQ(selected.devices.size(), 2u);
  EXPECT_EQ(selected.devices[0].id, "vulkan2");

  selected = select_devices({devices[0]}, "");
  EXPECT_TRUE(selected.devices.empty());
  EXPECT_NE(selected.why.find("--devices"), std::string::npos) << selected.why;

  selected = select_devices(devices, "vulkan7");
  EXPECT_TRUE(selected.devices.empty());
  EXPECT_NE(selected.why.find("vulkan7"), std::string::npos) << selected.why;
  EXPECT_NE(selected.why.find("vulkan0, vulkan1, vulkan2"), std::string::npos) << selected.why;

  EXPECT_TRUE(select_devices(devices, "vulkan1,vulkan1").devices.empty());
  EXPECT_TRUE(select_devices(devices, "none").devices.empty());
  EXPECT_EQ(select_devices({}, "").why, "no Vulkan device found");
}

TEST(DeviceSelection, TheDeviceHereIsListedWithItsFeatures) {
  std::string why;
  auto devices = vulkan::list_devices(&why);
  ASSERT_FALSE(devices.empty()) << why;
  EXPECT_EQ(devices[0].id, "vulkan0");
  EXPECT_FALSE(devices[0].name.empty());
  EXPECT_GT(devices[0].memory_bytes, 0u);
  EXPECT_GT(devices[0].features.subgroup_size, 0u);
  EXPECT_GT(devices[0].features.max_buffer_range, 0u);
}

}  // namespace

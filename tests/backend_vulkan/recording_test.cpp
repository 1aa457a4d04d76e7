// The device-resident contract: a sequence of ops (one decoder-like step)
// is recorded and submitted once, with only its inputs going up and the one
// logits row coming back, and its result equals the reference computed op
// by op on the host. Plus device naming and selection.
#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/decoder_step.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;
using namespace hearth::device_test;

namespace {

TEST(VulkanRecording, OneStepIsOneSubmitWithOnlyItsInputsAndLogitsCrossing) {
  DecoderStep step;
  auto ref = make_ref_backend();
  const std::vector<float> expected = step.on_host(*ref, false);
  auto& d = device();
  DeviceCounters counted;
  const std::vector<float> got = step.on_device(d, &counted);

  EXPECT_EQ(counted.submits, 1u);
  EXPECT_EQ(counted.waits, 1u);
  EXPECT_EQ(counted.uploads, 2u);  // token ids and positions
  EXPECT_EQ(counted.upload_bytes, 2u * DecoderStep::kTokens * 4);
  EXPECT_EQ(counted.downloads, 1u);
  EXPECT_EQ(counted.download_bytes, uint64_t(DecoderStep::kVocab) * 4);
  // 10 ops, and the four quantized matmuls each quantize their input first.
  EXPECT_EQ(counted.dispatches, DecoderStep::kOps + 4);
  expect_close(got, expected, 1e-4, "logits of the last token");

  // A sync with nothing recorded does not touch the queue.
  const uint64_t submits = d.counters().submits;
  d.sync();
  EXPECT_EQ(d.counters().submits, submits);
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

  EXPECT_EQ(select_devices(devices, "vulkan1,vulkan1").devices.size(), 2u);  // two logical devices on one
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

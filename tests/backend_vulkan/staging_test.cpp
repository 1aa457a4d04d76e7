// The Vulkan backend's staging: one host-visible buffer of a fixed size
// (DeviceInfo::staging_bytes), reused. A transfer larger than it goes up
// and comes back in pieces, with a sync whenever it fills, so loading a
// model never holds its weights twice; and the backend's allocation
// counters see every buffer it makes and frees (what `hearth plan` checks).
#include <cstring>
#include <vector>

#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;

namespace {

TEST(VulkanStaging, TransfersLargerThanTheStagingRoundTripInPieces) {
  auto& d = device();
  const uint64_t staging = d.info().staging_bytes;
  ASSERT_GT(staging, 0u);
  // 2.5 stagings' worth of f32, not a multiple of 16 bytes.
  const int64_t n = int64_t(staging * 5 / 2 / 4) + 3;
  std::vector<float> sent(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sent[size_t(i)] = float(i % 1000003) * 0.5f;
  const DeviceCounters before = d.counters();
  const DeviceTensor t = d.alloc(DType::F32, n, 1);
  const uint64_t with_tensor = d.counters().allocated_bytes;
  EXPECT_GE(with_tensor - before.allocated_bytes, uint64_t(n) * 4);
  d.write(t, sent.data());
  std::vector<float> received(static_cast<size_t>(n), -1.0f);
  d.read(t, received.data());
  d.sync();
  EXPECT_EQ(std::memcmp(sent.data(), received.data(), sent.size() * 4), 0);
  const DeviceCounters after = d.counters();
  EXPECT_GE(after.submits - before.submits, 4u);  // the staging filled at least four times
  // At most the one staging buffer was added (the first transfer of the
  // program makes it), not one per piece.
  EXPECT_LE(after.allocated_bytes, with_tensor + staging);
  EXPECT_GE(after.peak_allocated_bytes, after.allocated_bytes);
  d.free(t);
  EXPECT_EQ(d.counters().allocated_bytes, after.allocated_bytes - (with_tensor - before.allocated_bytes));
}

}  // namespace

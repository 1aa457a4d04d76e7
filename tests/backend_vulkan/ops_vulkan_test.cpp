// Every op of the Vulkan backend against the scalar reference, on the first
// Vulkan device (lavapipe in CI): the DeviceBackend op cases shared with the
// CPU DeviceBackend (tests/backend/device_op_cases.h).
#include "backend/device_op_cases.h"
#include "backend_vulkan/vulkan_test_util.h"

namespace hearth::device_test {

INSTANTIATE_TEST_SUITE_P(Vulkan, DeviceOps, testing::Values(DeviceUnderTest{"lavapipe", &vulkan_test::device}),
                         device_name);

}  // namespace hearth::device_test

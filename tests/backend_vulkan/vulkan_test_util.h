// The Vulkan device the backend tests run on (lavapipe in CI: a CPU-type
// device, so it is named explicitly as --devices would). The op cases and
// helpers are shared with the CPU DeviceBackend (tests/backend).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/device_test_util.h"
#include "backend/vulkan/instance.h"

namespace hearth::vulkan_test {

// One backend for the whole program (pipelines are built once). Fails the
// test, not skips it, when there is no Vulkan device: CI installs lavapipe.
inline backend::DeviceBackend& device() {
  static std::unique_ptr<backend::DeviceBackend> backend = [] {
    std::string why;
    auto devices = vulkan::list_devices(&why);
    if (devices.empty()) {
      ADD_FAILURE() << "no Vulkan device (" << why << "); scripts/setup installs lavapipe (mesa-vulkan-drivers)";
      return std::unique_ptr<backend::DeviceBackend>();
    }
    return vulkan::make_backend(devices[0].id);
  }();
  if (!backend) throw std::runtime_error("no Vulkan device");
  return *backend;
}

}  // namespace hearth::vulkan_test

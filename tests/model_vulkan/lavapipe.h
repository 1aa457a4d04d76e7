// The Vulkan devices the model tests run on: the first Vulkan device (lavapipe
// in CI) opened up to twice, as two logical devices, each with its own memory,
// queue and pipelines (built once for the program). A test fails, not skips,
// without one: scripts/setup installs lavapipe.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "backend/device.h"
#include "backend/vulkan/instance.h"

namespace hearth::test {

inline backend::DeviceBackend& lavapipe(int index = 0) {
  static std::unique_ptr<backend::DeviceBackend> devices[2];
  if (!devices[index]) {
    std::string why;
    const auto listed = vulkan::list_devices(&why);
    if (listed.empty()) throw std::runtime_error("no Vulkan device (" + why + "); scripts/setup installs lavapipe");
    devices[index] = vulkan::make_backend(listed[0].id);
  }
  return *devices[index];
}

}  // namespace hearth::test

// The Vulkan instance and the devices it sees (device.h's DeviceInfo), and
// the backend made on one of them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <vulkan/vulkan.h>

#include "backend/device.h"

namespace hearth::vulkan {

class Instance {
 public:
  // Null, with `why` set to one line, when no Vulkan instance can be made.
  static std::shared_ptr<Instance> create(std::string* why);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  const std::vector<backend::DeviceInfo>& devices() const { return devices_; }
  VkPhysicalDevice physical_device(size_t index) const { return physical_[index]; }

 private:
  Instance() = default;
  VkInstance instance_ = VK_NULL_HANDLE;
  std::vector<VkPhysicalDevice> physical_;
  std::vector<backend::DeviceInfo> devices_;
};

// Every Vulkan device, named vulkan0, vulkan1, ...; empty with `why` set when
// there is no Vulkan (no loader/driver) or no device.
std::vector<backend::DeviceInfo> list_devices(std::string* why);

// A backend on the device with this id ("vulkan0"). Throws hearth::Error
// with a message naming the device and what failed.
std::unique_ptr<backend::DeviceBackend> make_backend(const std::string& device_id);

}  // namespace hearth::vulkan

// Instance creation and device enumeration, with the features the kernels
// may use (each has a portable fallback).
#include "backend/vulkan/instance.h"

#include <cstring>

#include <fmt/format.h>

namespace hearth::vulkan {
namespace {

backend::DeviceKind kind_of(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return backend::DeviceKind::DiscreteGpu;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return backend::DeviceKind::IntegratedGpu;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return backend::DeviceKind::VirtualGpu;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return backend::DeviceKind::Cpu;
    default: return backend::DeviceKind::Other;
  }
}

bool has_extension(const std::vector<VkExtensionProperties>& extensions, const char* name) {
  for (const auto& e : extensions)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

backend::DeviceInfo describe(VkPhysicalDevice device, size_t index) {
  VkPhysicalDeviceProperties props{};
  vkGetPhysicalDeviceProperties(device, &props);
  backend::DeviceInfo info;
  info.id = fmt::format("vulkan{}", index);
  info.name = props.deviceName;
  info.kind = kind_of(props.deviceType);
  info.api_version = fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(props.apiVersion),
                                 VK_API_VERSION_MINOR(props.apiVersion), VK_API_VERSION_PATCH(props.apiVersion));

  VkPhysicalDeviceMemoryProperties memory{};
  vkGetPhysicalDeviceMemoryProperties(device, &memory);
  for (uint32_t h = 0; h < memory.memoryHeapCount; ++h)
    if (memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) info.memory_bytes += memory.memoryHeaps[h].size;

  uint32_t n_ext = 0;
  vkEnumerateDeviceExtensionProperties(device, nullptr, &n_ext, nullptr);
  std::vector<VkExtensionProperties> extensions(n_ext);
  vkEnumerateDeviceExtensionProperties(device, nullptr, &n_ext, extensions.data());

  auto& f = info.features;
  f.max_buffer_range = props.limits.maxStorageBufferRange;
  f.max_shared_memory = props.limits.maxComputeSharedMemorySize;
  f.cooperative_matrix = has_extension(extensions, "VK_KHR_cooperative_matrix");

  VkPhysicalDeviceDriverProperties driver{};
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  VkPhysicalDeviceSubgroupProperties subgroup{};
  subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  VkPhysicalDeviceShaderIntegerDotProductProperties dot{};
  dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES;
  VkPhysicalDeviceProperties2 props2{};
  props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  props2.pNext = &subgroup;
  const bool is_1_2 = props.apiVersion >= VK_API_VERSION_1_2;
  const bool has_dot = props.apiVersion >= VK_API_VERSION_1_3 ||
                       has_extension(extensions, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  if (is_1_2) subgroup.pNext = &driver;
  if (has_dot) (is_1_2 ? driver.pNext : subgroup.pNext) = &dot;
  vkGetPhysicalDeviceProperties2(device, &props2);
  f.subgroup_size = subgroup.subgroupSize;
  if (is_1_2) info.driver = fmt::format("{} {}", driver.driverName, driver.driverInfo);
  f.int8_dot_product = has_dot && dot.integerDotProduct4x8BitPackedSignedAccelerated;

  VkPhysicalDeviceVulkan11Features v11{};
  v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  VkPhysicalDeviceVulkan12Features v12{};
  v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  VkPhysicalDeviceFeatures2 features2{};
  features2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  if (is_1_2) {
    features2.pNext = &v11;
    v11.pNext = &v12;
    vkGetPhysicalDeviceFeatures2(device, &features2);
    f.fp16_arithmetic = v12.shaderFloat16;
    f.int8_arithmetic = v12.shaderInt8;
    f.storage_16bit = v11.storageBuffer16BitAccess;
    f.storage_8bit = v12.storageBuffer8BitAccess;
  }
  return info;
}

}  // namespace

std::shared_ptr<Instance> Instance::create(std::string* why) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "hearth";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo create_info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  create_info.pApplicationInfo = &app;
  std::shared_ptr<Instance> instance(new Instance());
  const VkResult result = vkCreateInstance(&create_info, nullptr, &instance->instance_);
  if (result != VK_SUCCESS) {
    *why = result == VK_ERROR_INCOMPATIBLE_DRIVER
               ? "no Vulkan driver is installed (for a CPU device, apt install mesa-vulkan-drivers)"
               : fmt::format("creating a Vulkan instance failed (VkResult {})", int(result));
    instance->instance_ = VK_NULL_HANDLE;
    return nullptr;
  }
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(instance->instance_, &count, nullptr);
  instance->physical_.resize(count);
  vkEnumeratePhysicalDevices(instance->instance_, &count, instance->physical_.data());
  instance->physical_.resize(count);
  for (size_t i = 0; i < instance->physical_.size(); ++i)
    instance->devices_.push_back(describe(instance->physical_[i], i));
  return instance;
}

Instance::~Instance() {
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

std::vector<backend::DeviceInfo> list_devices(std::string* why) {
  auto instance = Instance::create(why);
  if (!instance) return {};
  if (instance->devices().empty()) *why = "the Vulkan driver reports no device";
  return instance->devices();
}

}  // namespace hearth::vulkan

// VulkanBackend: the device, memory, recording and submission. The ops
// themselves (push constants and dispatch sizes) are in vulkan_ops.cpp.
#include "backend/vulkan/vulkan_backend.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "backend/ref/iq_grids.h"
#include "backend/vulkan/shaders.h"
#include "core/error.h"

namespace hearth::vulkan {
namespace {

void check(VkResult result, const char* what) {
  if (result != VK_SUCCESS) fail("Vulkan: {} failed (VkResult {})", what, int(result));
}

constexpr uint64_t kStagingBytes = 16ull << 20;
constexpr uint32_t kSetsPerPool = 1024;
constexpr uint32_t kMaxBindings = 8;  // the most buffers a shader binds (attention)
constexpr uint32_t kPushBytes = 128;  // the least maxPushConstantsSize Vulkan guarantees
constexpr uint32_t kMaxGroupsX = 65535;

}  // namespace

VulkanBackend::VulkanBackend(std::shared_ptr<Instance> instance, size_t device_index)
    : instance_(std::move(instance)),
      info_(instance_->devices().at(device_index)),
      physical_(instance_->physical_device(device_index)) {
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_props_);
  uint32_t n_families = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, nullptr);
  std::vector<VkQueueFamilyProperties> families(n_families);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, families.data());
  queue_family_ = n_families;
  for (uint32_t i = 0; i < n_families; ++i)  // a compute queue, preferring one without graphics
    if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
        (queue_family_ == n_families || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
      queue_family_ = i;
  if (queue_family_ == n_families) fail("Vulkan device {} ({}) has no compute queue", info_.id, info_.name);

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = queue_family_;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  check(vkCreateDevice(physical_, &device_info, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = queue_family_;
  check(vkCreateCommandPool(device_, &pool_info, nullptr, &command_pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo alloc_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc_info.commandPool = command_pool_;
  alloc_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc_info.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(device_, &alloc_info, &commands_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(device_, &fence_info, nullptr, &fence_), "vkCreateFence");
  VkPipelineCacheCreateInfo cache_info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  check(vkCreatePipelineCache(device_, &cache_info, nullptr, &pipeline_cache_), "vkCreatePipelineCache");
  {  // what a buffer's memory is rounded to, for `hearth plan`
    Buffer probe = create_buffer(4, false);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, probe.buffer, &req);
    info_.buffer_alignment = req.alignment;
    info_.staging_bytes = kStagingBytes;
    destroy_buffer(probe);
    counters_.peak_allocated_bytes = 0;
  }
}

void VulkanBackend::reserve(int64_t max_rows, int64_t max_n, int64_t, int) {
  scratch(Scratch::QuantizedActivations, DType::I32, int64_t(backend::quantized_activation_words(max_n, max_rows)), 1);
}

VulkanBackend::~VulkanBackend() {
  if (device_ == VK_NULL_HANDLE) return;
  vkDeviceWaitIdle(device_);
  for (auto& [id, b] : buffers_) destroy_buffer(b);
  for (auto& b : staging_) destroy_buffer(b);
  for (auto& b : retired_) destroy_buffer(b);
  for (auto& [name, p] : pipelines_) {
    vkDestroyPipeline(device_, p.pipeline, nullptr);
    vkDestroyPipelineLayout(device_, p.layout, nullptr);
    vkDestroyDescriptorSetLayout(device_, p.set_layout, nullptr);
  }
  for (auto pool : descriptor_pools_) vkDestroyDescriptorPool(device_, pool, nullptr);
  vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
  vkDestroyFence(device_, fence_, nullptr);
  vkDestroyCommandPool(device_, command_pool_, nullptr);
  vkDestroyDevice(device_, nullptr);
}

// ---------------------------------------------------------------- memory

VulkanBackend::Buffer VulkanBackend::create_buffer(uint64_t size, bool host_visible) {
  Buffer b;
  b.size = std::max<uint64_t>(4, (size + 3) & ~uint64_t(3));  // shaders see 32-bit words
  if (b.size > info_.features.max_buffer_range)
    fail("Vulkan device {} ({}): a buffer of {} bytes exceeds its largest storage buffer ({} bytes)", info_.id,
         info_.name, b.size, info_.features.max_buffer_range);
  VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  buffer_info.size = b.size;
  buffer_info.usage =
      VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(device_, &buffer_info, nullptr, &b.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, b.buffer, &req);
  const VkMemoryPropertyFlags wanted = host_visible
                                           ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                           : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  uint32_t type = memory_props_.memoryTypeCount;
  for (uint32_t i = 0; i < memory_props_.memoryTypeCount && type == memory_props_.memoryTypeCount; ++i)
    if ((req.memoryTypeBits & (1u << i)) && (memory_props_.memoryTypes[i].propertyFlags & wanted) == wanted) type = i;
  if (type == memory_props_.memoryTypeCount && !host_visible)  // no device-local type: any will do
    for (uint32_t i = 0; i < memory_props_.memoryTypeCount && type == memory_props_.memoryTypeCount; ++i)
      if (req.memoryTypeBits & (1u << i)) type = i;
  if (type == memory_props_.memoryTypeCount)
    fail("Vulkan device {}: no memory type for a {} buffer", info_.id, host_visible ? "staging" : "device");
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = type;
  const VkResult result = vkAllocateMemory(device_, &alloc, nullptr, &b.memory);
  if (result != VK_SUCCESS) {
    vkDestroyBuffer(device_, b.buffer, nullptr);
    fail("Vulkan device {} ({}): out of memory allocating {} bytes (VkResult {})", info_.id, info_.name, req.size,
         int(result));
  }
  b.allocated = req.size;
  counters_.allocated_bytes += req.size;
  counters_.peak_allocated_bytes = std::max(counters_.peak_allocated_bytes, counters_.allocated_bytes);
  check(vkBindBufferMemory(device_, b.buffer, b.memory, 0), "vkBindBufferMemory");
  if (host_visible) check(vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
  return b;
}

void VulkanBackend::destroy_buffer(Buffer& b) {
  if (b.buffer == VK_NULL_HANDLE) return;
  if (b.mapped) vkUnmapMemory(device_, b.memory);
  vkDestroyBuffer(device_, b.buffer, nullptr);
  vkFreeMemory(device_, b.memory, nullptr);
  counters_.allocated_bytes -= b.allocated;
  b = Buffer{};
}

backend::DeviceTensor VulkanBackend::alloc(DType type, int64_t n, int64_t rows) {
  const uint64_t row = row_bytes(type, uint64_t(n));
  const uint32_t id = next_buffer_id_++;  // never reused: a stale handle can't alias a new buffer
  buffers_[id] = create_buffer(row * uint64_t(std::max<int64_t>(rows, 1)), false);
  return backend::DeviceTensor{id, 0, type, n, rows, row};
}

void VulkanBackend::free(const backend::DeviceTensor& t) {
  auto it = buffers_.find(t.buffer);
  if (it == buffers_.end()) return;
  if (recording_) sync();  // recorded commands may still use it
  for (auto set = descriptor_sets_.begin(); set != descriptor_sets_.end();) {
    if (std::find(set->first.begin() + 1, set->first.end(), uint64_t(t.buffer)) != set->first.end())
      set = descriptor_sets_.erase(set);  // its pool slot is reclaimed when the pool goes
    else
      ++set;
  }
  destroy_buffer(it->second);
  buffers_.erase(it);
}

backend::DeviceTensor VulkanBackend::upload_weight(const backend::Weight& w) {
  backend::DeviceTensor t = alloc(w.type, w.n_in, w.n_out * w.n_mat);
  if (t.row_bytes != w.row_bytes)
    fail("weight of {} x {} {}: row of {} bytes, expected {}", w.n_out, w.n_in, dtype_name(w.type), w.row_bytes,
         t.row_bytes);
  write(t, w.data);
  return t;
}

VkBuffer VulkanBackend::buffer_of(uint32_t id) const {
  auto it = buffers_.find(id);
  if (it == buffers_.end()) fail("internal: Vulkan buffer {} does not exist (freed, or another backend's)", id);
  return it->second.buffer;
}

VulkanBackend::Staged VulkanBackend::stage(uint64_t bytes) {
  if (staging_.empty()) staging_.push_back(create_buffer(kStagingBytes, true));
  if (staging_used_ + 16 > kStagingBytes) {  // full: run what uses it, then reuse it
    sync();
    begin_recording();
  }
  const uint64_t offset = staging_used_;
  bytes = std::min(bytes, kStagingBytes - offset);
  staging_used_ = std::min(kStagingBytes, offset + ((bytes + 15) & ~uint64_t(15)));
  return {0, offset, bytes};
}

backend::DeviceTensor VulkanBackend::scratch(Scratch slot, DType type, int64_t n, int64_t rows) {
  ScratchBuffer& s = scratch_[size_t(slot)];
  const uint64_t bytes = row_bytes(type, uint64_t(n)) * uint64_t(rows);
  if (bytes > s.bytes) {
    if (s.id != 0) {  // commands recorded so far still use the old one
      retired_.push_back(buffers_[s.id]);
      buffers_.erase(s.id);
    }
    s.bytes = std::max(bytes, s.bytes * 2);
    s.id = next_buffer_id_++;
    buffers_[s.id] = create_buffer(s.bytes, false);
  }
  return backend::DeviceTensor{s.id, 0, type, n, rows, row_bytes(type, uint64_t(n))};
}

uint32_t VulkanBackend::grid_binding(DType type, uint32_t other) {
  switch (type) {
    case DType::IQ2_XXS: case DType::IQ2_XS: case DType::IQ2_S: case DType::IQ3_XXS: case DType::IQ3_S:
    case DType::IQ1_S: case DType::IQ1_M: break;
    default: return other;
  }
  if (grids_ != 0) return grids_;
  // In types_lattice.glsl's order and word offsets (GRID_IQ2XXS ...).
  std::vector<uint32_t> words;
  const auto append = [&](const auto& table) {
    for (const auto entry : table)
      for (size_t k = 0; k < sizeof(entry) / 4; ++k) words.push_back(uint32_t(uint64_t(entry) >> (32 * k)));
  };
  append(ref::kIq2xxsGrid);
  append(ref::kIq2xsGrid);
  append(ref::kIq2sGrid);
  append(ref::kIq3xxsGrid);
  append(ref::kIq3sGrid);
  append(ref::kIq1sGrid);
  if (words.size() != 8448) fail("internal: the lattice grids are {} words, the shaders expect 8448", words.size());
  const backend::DeviceTensor t = alloc(DType::I32, int64_t(words.size()), 1);
  write(t, words.data());
  grids_ = t.buffer;
  return grids_;
}

// ---------------------------------------------------------------- recording

void VulkanBackend::begin_recording() {
  if (recording_) return;
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(commands_, &begin), "vkBeginCommandBuffer");
  recording_ = true;
}

// Every command waits for every earlier one: ops read what the previous
// wrote. (Finer dependencies are a later optimization.)
void VulkanBackend::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(commands_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void VulkanBackend::write(const backend::DeviceTensor& dst, const void* src) {
  if (!dst.contiguous()) fail("internal: write() to a strided tensor view");
  const uint64_t bytes = dst.bytes();
  if (bytes == 0) return;
  begin_recording();
  for (uint64_t done = 0; done < bytes;) {
    const Staged s = stage(bytes - done);
    std::memcpy(static_cast<uint8_t*>(staging_[s.chunk].mapped) + s.offset, static_cast<const uint8_t*>(src) + done,
                s.bytes);
    VkBufferCopy copy{s.offset, dst.offset + done, s.bytes};
    vkCmdCopyBuffer(commands_, staging_[s.chunk].buffer, buffer_of(dst.buffer), 1, &copy);
    done += s.bytes;
  }
  barrier();
  counters_.uploads += 1;
  counters_.upload_bytes += bytes;
}

void VulkanBackend::read(const backend::DeviceTensor& src, void* dst) {
  if (!src.contiguous()) fail("internal: read() of a strided tensor view");
  const uint64_t bytes = src.bytes();
  if (bytes == 0) return;
  begin_recording();
  for (uint64_t done = 0; done < bytes;) {
    const Staged s = stage(bytes - done);
    VkBufferCopy copy{src.offset + done, s.offset, s.bytes};
    vkCmdCopyBuffer(commands_, buffer_of(src.buffer), staging_[s.chunk].buffer, 1, &copy);
    barrier();
    pending_reads_.push_back({s.chunk, s.offset, s.bytes, static_cast<uint8_t*>(dst) + done});
    done += s.bytes;
  }
  counters_.downloads += 1;
  counters_.download_bytes += bytes;
}

void VulkanBackend::copy_rows(const backend::DeviceTensor& src, const backend::DeviceTensor& dst) {
  if (src.type != dst.type || src.n != dst.n || src.rows != dst.rows)
    fail("internal: Vulkan copy_rows of {} x {} {} into {} x {} {}", src.rows, src.n, dtype_name(src.type), dst.rows,
         dst.n, dtype_name(dst.type));
  if (src.rows == 0) return;
  begin_recording();
  const uint64_t row = row_bytes(src.type, src.n);
  std::vector<VkBufferCopy> copies;
  if (src.contiguous() && dst.contiguous()) {
    copies.push_back({src.offset, dst.offset, src.bytes()});
  } else {
    for (int64_t r = 0; r < src.rows; ++r)
      copies.push_back({src.offset + uint64_t(r) * src.row_bytes, dst.offset + uint64_t(r) * dst.row_bytes, row});
  }
  vkCmdCopyBuffer(commands_, buffer_of(src.buffer), buffer_of(dst.buffer), uint32_t(copies.size()), copies.data());
  barrier();
  counters_.dispatches += 1;
}

void VulkanBackend::sync() {
  if (!recording_) return;
  check(vkEndCommandBuffer(commands_), "vkEndCommandBuffer");
  recording_ = false;
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &commands_;
  check(vkQueueSubmit(queue_, 1, &submit, fence_), "vkQueueSubmit");
  counters_.submits += 1;
  check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  counters_.waits += 1;
  check(vkResetFences(device_, 1, &fence_), "vkResetFences");
  for (const auto& r : pending_reads_)
    std::memcpy(r.dst, static_cast<const uint8_t*>(staging_[r.staging].mapped) + r.offset, r.size);
  pending_reads_.clear();
  for (auto& b : retired_) destroy_buffer(b);
  retired_.clear();
  staging_used_ = 0;
  check(vkResetCommandBuffer(commands_, 0), "vkResetCommandBuffer");
}

const VulkanBackend::Pipeline& VulkanBackend::pipeline(const std::string& shader, uint32_t n_bindings) {
  auto found = pipelines_.find(shader);
  if (found != pipelines_.end()) return found->second;
  const auto& shaders = embedded_shaders();
  auto spv = std::find_if(shaders.begin(), shaders.end(), [&](const EmbeddedShader& s) { return s.name == shader; });
  if (spv == shaders.end()) fail("internal: no embedded shader '{}'", shader);

  Pipeline p;
  p.n_bindings = n_bindings;
  std::vector<VkDescriptorSetLayoutBinding> bindings(n_bindings);
  for (uint32_t i = 0; i < n_bindings; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.bindingCount = n_bindings;
  set_info.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(device_, &set_info, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &p.set_layout;
  layout_info.pushConstantRangeCount = 1;
  layout_info.pPushConstantRanges = &push;
  check(vkCreatePipelineLayout(device_, &layout_info, nullptr, &p.layout), "vkCreatePipelineLayout");

  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = spv->n_words * 4;
  module_info.pCode = spv->words;
  VkShaderModule module;
  check(vkCreateShaderModule(device_, &module_info, nullptr, &module), "vkCreateShaderModule");
  VkComputePipelineCreateInfo pipeline_info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pipeline_info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT,
                         module, "main", nullptr};
  pipeline_info.layout = p.layout;
  const VkResult result =
      vkCreateComputePipelines(device_, pipeline_cache_, 1, &pipeline_info, nullptr, &p.pipeline);
  vkDestroyShaderModule(device_, module, nullptr);
  check(result, "vkCreateComputePipelines");
  return pipelines_.emplace(shader, p).first->second;
}

VkDescriptorSet VulkanBackend::descriptor_set(const Pipeline& p, const std::vector<uint32_t>& buffers) {
  std::vector<uint64_t> key{uint64_t(reinterpret_cast<uintptr_t>(p.set_layout))};
  for (uint32_t id : buffers) key.push_back(id);
  auto found = descriptor_sets_.find(key);
  if (found != descriptor_sets_.end()) return found->second;

  if (descriptor_pools_.empty() || sets_in_pool_ == kSetsPerPool) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings};
    VkDescriptorPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pool_info.maxSets = kSetsPerPool;
    pool_info.poolSizeCount = 1;
    pool_info.pPoolSizes = &size;
    VkDescriptorPool pool;
    check(vkCreateDescriptorPool(device_, &pool_info, nullptr, &pool), "vkCreateDescriptorPool");
    descriptor_pools_.push_back(pool);
    sets_in_pool_ = 0;
  }
  VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  alloc.descriptorPool = descriptor_pools_.back();
  alloc.descriptorSetCount = 1;
  alloc.pSetLayouts = &p.set_layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(device_, &alloc, &set), "vkAllocateDescriptorSets");
  ++sets_in_pool_;
  std::vector<VkDescriptorBufferInfo> infos(buffers.size());
  std::vector<VkWriteDescriptorSet> writes(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    infos[i] = {buffer_of(buffers[i]), 0, VK_WHOLE_SIZE};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = uint32_t(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(device_, uint32_t(writes.size()), writes.data(), 0, nullptr);
  descriptor_sets_.emplace(std::move(key), set);
  return set;
}

void VulkanBackend::dispatch(const std::string& shader, const std::vector<uint32_t>& buffers, const void* push,
                             size_t push_bytes, uint64_t groups) {
  if (groups == 0) return;
  if (groups > uint64_t(kMaxGroupsX) * kMaxGroupsX) fail("internal: dispatch of {} workgroups is too large", groups);
  if (buffers.size() > kMaxBindings) fail("internal: shader {} binds {} buffers", shader, buffers.size());
  const Pipeline& p = pipeline(shader, uint32_t(buffers.size()));
  const VkDescriptorSet set = descriptor_set(p, buffers);
  begin_recording();
  vkCmdBindPipeline(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  uint8_t constants[kPushBytes] = {};
  std::memcpy(constants, push, std::min<size_t>(push_bytes, kPushBytes));
  vkCmdPushConstants(commands_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes, constants);
  const uint32_t x = uint32_t(std::min<uint64_t>(groups, kMaxGroupsX));
  const uint32_t y = uint32_t((groups + x - 1) / x);
  vkCmdDispatch(commands_, x, y, 1);
  barrier();
  counters_.dispatches += 1;
}

std::unique_ptr<backend::DeviceBackend> make_backend(const std::string& device_id) {
  std::string why;
  auto instance = Instance::create(&why);
  if (!instance) fail("Vulkan: {}", why);
  for (size_t i = 0; i < instance->devices().size(); ++i)
    if (instance->devices()[i].id == device_id) return std::make_unique<VulkanBackend>(instance, i);
  fail("Vulkan device '{}' does not exist ({} device(s))", device_id, instance->devices().size());
}

}  // namespace hearth::vulkan

// The DeviceBackend on one Vulkan device: buffers (device-local, with
// host-visible staging for transfers), one command buffer recording every op
// and transfer until sync(), pipelines made once per shader from the embedded
// SPIR-V (through a pipeline cache), descriptor sets cached per buffer set.
// One thread records at a time (as one engine drives one backend).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/device.h"
#include "backend/vulkan/instance.h"

namespace hearth::vulkan {

class VulkanBackend final : public backend::DeviceBackend {
 public:
  VulkanBackend(std::shared_ptr<Instance> instance, size_t device_index);
  ~VulkanBackend() override;

  const backend::DeviceInfo& info() const override { return info_; }
  backend::DeviceTensor alloc(DType type, int64_t n, int64_t rows) override;
  void free(const backend::DeviceTensor& t) override;
  backend::DeviceTensor upload_weight(const backend::Weight& w) override;
  void write(const backend::DeviceTensor& dst, const void* src) override;
  void read(const backend::DeviceTensor& src, void* dst) override;
  void sync() override;
  backend::DeviceCounters counters() const override { return counters_; }
  // Sizes the quantized-activation scratch for the largest matmul at once
  // (max_rows rows of max_n), so it never grows while the model runs.
  void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) override;

  void matmul(const backend::DeviceTensor& w, const backend::DeviceTensor& x, const backend::DeviceTensor& y) override;
  void get_rows(const backend::DeviceTensor& table, const backend::DeviceTensor& ids,
                const backend::DeviceTensor& out) override;
  void rms_norm(const backend::DeviceTensor& x, const backend::DeviceTensor& weight, float eps,
                const backend::DeviceTensor& y) override;
  void rope(const backend::DeviceTensor& x, int n_heads, int head_dim, const backend::DeviceTensor& positions,
            const backend::DeviceRope& rope) override;
  void store_kv(const backend::DeviceTensor& src, const backend::DeviceTensor& cache, int64_t first_row) override;
  void moe_route(const backend::DeviceTensor& logits, int n_used, backend::MoeGating gating,
                 const backend::DeviceTensor& ids,
                 const backend::DeviceTensor& weights) override;
  void moe_ffn(const backend::DeviceMoe& params) override;
  void store_kv_paged(const backend::DeviceTensor& src, const backend::DeviceTensor& cache,
                      const backend::DeviceKvSlots& slots) override;
  void attention(const backend::DeviceAttention& params) override;
  void gated_activation(backend::Activation act, const backend::DeviceTensor& gate, const backend::DeviceTensor& up,
                        const backend::DeviceTensor& out) override;
  void hadamard(const backend::DeviceTensor& x, int block) override;
  void add(const backend::DeviceTensor& y, const backend::DeviceTensor& x) override;
  void add_rows(const backend::DeviceTensor& y, const backend::DeviceTensor& bias) override;
  void scale(const backend::DeviceTensor& y, float s) override;
  void softcap(const backend::DeviceTensor& y, float cap) override;
  void copy_rows(const backend::DeviceTensor& src, const backend::DeviceTensor& dst) override;
  void layer_norm(const backend::DeviceTensor& x, const backend::DeviceTensor& weight,
                  const backend::DeviceTensor& bias, float eps, const backend::DeviceTensor& y) override;
  void activation(backend::Activation act, const backend::DeviceTensor& x, const backend::DeviceTensor& y) override;

 private:
  struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint64_t allocated = 0;  // the memory allocated for it (its requirements' size)
    void* mapped = nullptr;  // host-visible buffers only
  };
  struct Pipeline {
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    uint32_t n_bindings = 0;
  };
  struct PendingRead {
    size_t staging = 0;  // index in staging_
    uint64_t offset = 0, size = 0;
    void* dst = nullptr;
  };

  Buffer create_buffer(uint64_t size, bool host_visible);
  void destroy_buffer(Buffer& b);
  const Pipeline& pipeline(const std::string& shader, uint32_t n_bindings);
  VkDescriptorSet descriptor_set(const Pipeline& p, const std::vector<uint32_t>& buffers);
  void begin_recording();
  void barrier();
  // Records a dispatch of `groups` workgroups (spread over x and y).
  void dispatch(const std::string& shader, const std::vector<uint32_t>& buffers, const void* push, size_t push_bytes,
                uint64_t groups);
  // Host-visible staging space for up to `bytes` of one transfer (at most
  // kStagingBytes): returns (staging index, offset, bytes granted). The
  // staging is one buffer, allocated on first use; when it is full the
  // commands recorded so far are run (sync) and it is reused, so loading a
  // model stages its weights piece by piece instead of holding them all.
  struct Staged {
    size_t chunk;
    uint64_t offset, bytes;
  };
  Staged stage(uint64_t bytes);
  VkBuffer buffer_of(uint32_t id) const;
  // Buffers the backend keeps for an op's intermediates, grown (never
  // shrunk) to the largest use: a tensor of `rows` rows of n `type` over one.
  enum class Scratch { QuantizedActivations, MoeGate, MoeUp, MoeDown, Count };
  backend::DeviceTensor scratch(Scratch slot, DType type, int64_t n, int64_t rows);
  // Records a matmul; with `ids`, output row s uses expert ids[s] of the
  // weight stack and activation row s / x_rows_per (MoE).
  struct ExpertIds {
    const backend::DeviceTensor* ids = nullptr;
    int64_t experts = 1;
    int64_t x_row_divisor = 1;
  };
  void record_store_kv(const backend::DeviceTensor& src, const backend::DeviceTensor& cache, int64_t first_row,
                       const backend::DeviceKvSlots* slots);
  // y[s] += bias[ids[s]] for each row s of an MoE projection (nothing for an empty bias).
  void add_expert_bias(const backend::DeviceTensor& y, const backend::DeviceTensor& bias,
                       const backend::DeviceTensor& ids, int n_expert);
  // out = act(gate) * up, or act(gate) without up.
  void record_activation(backend::Activation act, const backend::DeviceTensor& gate, const backend::DeviceTensor* up,
                         const backend::DeviceTensor& out);
  void record_matmul(const backend::DeviceTensor& w, const backend::DeviceTensor& x, const backend::DeviceTensor& y,
                     const ExpertIds& ids);
  // The buffer a matmul or get_rows of `type` binds for the lattice grids:
  // the grid tables (uploaded on first use) for the IQ1-IQ3 types, else
  // `other` (an unused binding).
  uint32_t grid_binding(DType type, uint32_t other);

  std::shared_ptr<Instance> instance_;
  backend::DeviceInfo info_;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer commands_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptor_pools_;
  uint32_t sets_in_pool_ = 0;
  bool recording_ = false;

  std::unordered_map<uint32_t, Buffer> buffers_;
  uint32_t next_buffer_id_ = 1;
  std::unordered_map<std::string, Pipeline> pipelines_;
  std::map<std::vector<uint64_t>, VkDescriptorSet> descriptor_sets_;  // (layout, buffer ids) -> set
  std::vector<Buffer> staging_;    // one buffer (stage()), reused every sync
  uint64_t staging_used_ = 0;      // bytes used in it
  std::vector<PendingRead> pending_reads_;
  std::vector<Buffer> retired_;    // replaced while recorded commands may use them; freed at sync
  struct ScratchBuffer {
    uint32_t id = 0;
    uint64_t bytes = 0;
  };
  ScratchBuffer scratch_[size_t(Scratch::Count)];
  uint32_t grids_ = 0;  // the lattice grid tables' buffer, 0 until needed
  backend::DeviceCounters counters_;
};

}  // namespace hearth::vulkan

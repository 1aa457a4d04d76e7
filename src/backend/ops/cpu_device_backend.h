// The DeviceBackend on the CPU (step 2 of docs/device-backend.md's migration
// path): tensors live in host memory, a DeviceTensor's buffer id names one of
// this backend's allocations, write()/read() are memcpy, and every op runs at
// the call through a CpuBackend (the host Backend's kernels, thread pool,
// packed weights and tiled attention), so its results are that backend's bit
// for bit. sync() has nothing left to run.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/device.h"
#include "backend/ops/cpu_backend.h"

namespace hearth::backend {

class CpuDeviceBackend final : public DeviceBackend {
 public:
  CpuDeviceBackend(cpu::Kernels kernels, int n_threads);
  // Over a host backend the caller owns (make_host_device_backend): weights
  // keep the packed layout they come with and are never packed here.
  explicit CpuDeviceBackend(Backend& host);

  const DeviceInfo& info() const override { return info_; }
  // Sizes the kernels' scratch up front, as Backend::reserve (ops also grow
  // it on first use, so a step never allocates after the first).
  void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) override;
  int n_threads() const { return host_.n_threads(); }

  DeviceTensor alloc(DType type, int64_t n, int64_t rows) override;
  void free(const DeviceTensor& t) override;
  // The weight's bytes are used in place (not copied): they must outlive the
  // tensor, as the Model's mapped file does. Packed here for the SIMD matmul
  // when the kernels have a packed layout for its type.
  DeviceTensor upload_weight(const Weight& w) override;
  void write(const DeviceTensor& dst, const void* src) override;
  // Copies at the call: every op recorded before it has already run.
  void read(const DeviceTensor& src, void* dst) override;
  void sync() override {}
  DeviceCounters counters() const override { return counters_; }

  void matmul(const DeviceTensor& w, const DeviceTensor& x, const DeviceTensor& y) override;
  void get_rows(const DeviceTensor& table, const DeviceTensor& ids, const DeviceTensor& out) override;
  void rms_norm(const DeviceTensor& x, const DeviceTensor& weight, float eps, const DeviceTensor& y) override;
  void rope(const DeviceTensor& x, int n_heads, int head_dim, const DeviceTensor& positions,
            const DeviceRope& rope) override;
  void store_kv(const DeviceTensor& src, const DeviceTensor& cache, int64_t first_row) override;
  void store_kv_paged(const DeviceTensor& src, const DeviceTensor& cache, const DeviceKvSlots& slots) override;
  void attention(const DeviceAttention& params) override;
  void moe_route(const DeviceTensor& logits, int n_used, MoeGating gating, const DeviceTensor& ids,
                 const DeviceTensor& weights) override;
  void moe_ffn(const DeviceMoe& params) override;
  void gated_activation(Activation act, const DeviceTensor& gate, const DeviceTensor& up,
                        const DeviceTensor& out) override;
  void hadamard(const DeviceTensor& x, int block) override;
  void add(const DeviceTensor& y, const DeviceTensor& x) override;
  void add_rows(const DeviceTensor& y, const DeviceTensor& bias) override;
  void scale(const DeviceTensor& y, float s) override;
  void softcap(const DeviceTensor& y, float cap) override;
  void copy_rows(const DeviceTensor& src, const DeviceTensor& dst) override;
  void layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps,
                  const DeviceTensor& y) override;
  void activation(Activation act, const DeviceTensor& x, const DeviceTensor& y) override;

 private:
  struct AlignedFree {
    void operator()(uint8_t* p) const;
  };
  struct Buffer {
    uint8_t* data = nullptr;  // owned (storage) or the caller's weight bytes
    uint64_t size = 0;
    std::unique_ptr<uint8_t, AlignedFree> storage;
    bool borrowed = false;              // a weight's bytes: never written
    Weight weight;                      // upload_weight's, with its packed layout
    std::shared_ptr<const uint8_t[]> packed;
  };

  const Buffer& buffer(const DeviceTensor& t, const char* op) const;
  // The tensor's first byte, after checking it lies in its buffer.
  uint8_t* bytes(const DeviceTensor& t, const char* op) const;
  float* floats(const DeviceTensor& t, const char* op) const;
  const int32_t* ints(const DeviceTensor& t, int64_t count, const char* op) const;
  // An in-place op on t's f32 rows: fn(first row, row count) once when t is
  // contiguous, else once per row of the strided view.
  template <typename Fn>
  void in_place_rows(const DeviceTensor& t, const char* op, Fn&& fn) const {
    if (t.contiguous()) {
      fn(floats(t, op), t.rows);
      return;
    }
    for (int64_t r = 0; r < t.rows; ++r) fn(floats(t.row_range(r, 1), op), int64_t(1));
  }
  // The tensor as the host Backend's Weight (with the packed layout when it
  // is the whole uploaded matrix).
  Weight weight(const DeviceTensor& t, int64_t n_mat, const char* op) const;
  void grow(int64_t rows, int64_t n, int64_t ctx = 0, int head_dim = 0);
  // Rows of a strided f32 view gathered into (or scattered from) a scratch.
  const float* gather(const DeviceTensor& t, std::vector<float>& scratch, const char* op) const;
  void scatter(const std::vector<float>& scratch, const DeviceTensor& t, const char* op) const;

  std::unique_ptr<Backend> owned_;  // make_cpu_device_backend's; null over a caller's backend
  Backend& host_;
  bool pack_on_upload_ = true;
  DeviceInfo info_;
  std::unordered_map<uint32_t, Buffer> buffers_;
  uint32_t next_buffer_id_ = 1;
  DeviceCounters counters_;
  int64_t max_rows_ = 0, max_n_ = 0, max_ctx_ = 0;
  int head_dim_ = 0;
  // Per-op host scratch, grown to the largest use and reused.
  std::vector<const int32_t*> tables_;
  std::vector<float> q_scratch_, out_scratch_, x_scratch_, probs_;
  std::vector<const float*> bias_rows_;
};

}  // namespace hearth::backend

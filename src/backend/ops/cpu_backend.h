// The Backend on the CPU: matmuls and attention through the kernel table
// (scalar reference or SIMD, chosen once), element-wise ops in plain loops,
// all split across a thread pool. Every buffer is sized in reserve().
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/thread_pool.h"

namespace hearth::backend {

class CpuBackend final : public Backend {
 public:
  CpuBackend(cpu::Kernels kernels, int n_threads);

  // The heap buffers the backend holds for a reserve() of these sizes (and
  // its constructor's GELU table), in bytes: the one list that reserve()
  // fills and `hearth plan` counts.
  struct ScratchSizes {
    size_t act = 0, act_sums = 0, split_states = 0, gelu_table = 0;  // shared
    size_t scores = 0, acc = 0, v_row = 0, q_conv = 0, tile_q = 0, tile_acc = 0, tile_k = 0, tile_kt = 0, tile_v = 0,
           tile_m = 0, tile_sum = 0, stripes = 0;  // per thread
    int n_threads = 1;
    std::vector<uint64_t> buffer_bytes() const;
  };
  static ScratchSizes scratch_sizes(int n_threads, int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim);

  std::string name() const override { return "cpu-" + kernels_.isa; }
  int n_threads() const override { return pool_.size(); }
  void reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) override;

  std::shared_ptr<const uint8_t[]> pack(const Weight& w) override;
  void matmul(const Weight& w, const float* x, int64_t rows, float* y) override;
  void get_rows(const Weight& table, const int32_t* ids, int64_t n, float* out) override;
  void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* y) override;
  void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
            const RopeParams& params) override;
  void store_kv(const float* src, int64_t rows, int64_t n, KvView dst, int64_t first_row) override;
  void attention(const AttentionParams& params) override;
  void gated_activation(Activation act, const float* gate, const float* up, int64_t stride, int64_t rows, int64_t n,
                        float* out) override;
  void moe_ffn(const MoeParams& params) override;

  void hadamard(float* x, int64_t n_values, int block) override;
  void add(float* y, const float* x, int64_t n) override;
  void add_rows(float* y, const float* bias, int64_t rows, int64_t n) override;
  void scale(float* y, float s, int64_t n) override;
  void softcap(float* y, float cap, int64_t n) override;
  void layer_norm(const float* x, const float* weight, const float* bias, int64_t rows, int64_t n, float eps,
                  float* y) override;
  void activation(Activation act, const float* x, int64_t n, float* y) override;
  void avg_pool_2d(const float* x, int64_t width, int64_t height, int64_t channels, int kernel, float* y) override;

 private:
  // Query heads that share a KV head are attended together, this many at
  // most, so each K and V row is read once for all of them. With float
  // caches, and q8_0/q4_0 ones (read in place), runs of tokens too
  // (attend_tile): up to kMaxTileQueries
  // (token, head) queries share each block of kKeyBlock keys.
  static constexpr int kMaxHeadGroup = 8;
  static constexpr int kMaxTileTokens = 16;
  static constexpr int kMaxTileQueries = 64;
  static constexpr int kKeyBlock = 32;
  // A decode step's item takes up to this many KV heads at once (all of a
  // cache row's heads for the common shapes), so that rows are read whole.
  static constexpr int kMaxItemKvHeads = 8;
  // The fused path's split-K: keys in chunks of kSplitKeys, chunk c merged
  // into stripe c % kSplitWays (see attend_tile).
  static constexpr int64_t kSplitKeys = 256;
  static constexpr int kSplitWays = 8;
  struct ThreadScratch {
    std::vector<float> scores;    // attention scores over the context, per query of a group or tile
    std::vector<float> acc;       // attention output accumulators, head_dim per head
    std::vector<float> v_row;     // one dequantized V head
    std::vector<uint8_t> q_conv;  // the group's query heads in K's dot-product type
    std::vector<float> tile_q, tile_acc, tile_k, tile_kt, tile_v, tile_m, tile_sum;  // attend_tile
    std::vector<float> stripes;   // attend_tile's two flash states (the total and one stripe)
  };
  struct FlashState {
    float* m;
    float* sum;
    float* acc;
    int n_queries;
    void clear() const;
  };
  FlashState flash_state(float* stripes, int stripe, int hd) const;
  void merge_flash(const FlashState& into, const FlashState& from, int hd) const;
  void finish_flash(const AttentionParams& p, int64_t token0, int head0, int n_group, int n_queries, float* stripes,
                    int n_stripes) const;
  void attend_group(const AttentionParams& p, int64_t token, int head0, int n_group, ThreadScratch& scratch) const;
  bool can_tile_attention(const AttentionParams& p) const;
  // A tile's attention, written to p.out; or, with only_stripe >= 0 (fused
  // path), only that stripe's keys, its state left in stripe_out.
  void attend_tile(const AttentionParams& p, int64_t token0, int n_tokens, int head0, int n_group,
                   ThreadScratch& scratch, int only_stripe = -1, float* stripe_out = nullptr) const;

  // Below this much work (roughly, multiply-adds) an op runs on the calling
  // thread: handing it to the pool costs more than it saves, and far more on
  // a loaded machine, where a descheduled worker stalls every op.
  static constexpr int64_t kMinParallelWork = 1 << 16;
  template <typename Fn>
  void split(int64_t n_items, int64_t work_per_item, Fn&& fn) {
    if (n_items * work_per_item < kMinParallelWork || pool_.size() == 1)
      fn(int64_t(0), n_items);
    else
      pool_.parallel_for(n_items, fn);
  }
  void require_reserved(int64_t rows, int64_t n) const;
  void matmul_packed(const Weight& w, const uint8_t* act, size_t act_row_bytes, int64_t rows, float* y);

  cpu::Kernels kernels_;
  ThreadPool pool_;
  std::vector<uint16_t> gelu_table_;  // ggml's f16 GELU table: gelu(x) by x's f16 bits
  int64_t max_rows_ = 0, max_n_ = 0, max_ctx_ = 0;
  int head_dim_ = 0;
  std::vector<uint8_t> act_;          // activations in a weight's dot-product type
  std::vector<int32_t> act_sums_;     // per-block sums and scales (packed Q4_0, MXFP4, Q8_0)
  std::vector<ThreadScratch> thread_scratch_;
  size_t scratch_scores_ = 0;          // floats in each ThreadScratch::scores
  std::vector<int64_t> tile_starts_;   // attention's token tiles
  std::vector<float> split_states_;    // split-K stripes: fewer items than threads, kSplitWays each
  std::vector<float> moe_x_, moe_gate_, moe_up_, moe_y_;
  std::vector<int32_t> moe_rows_;
};

}  // namespace hearth::backend

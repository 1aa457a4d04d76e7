// Continuous-batching bookkeeping, vLLM v1 style, with no model in sight:
// each request carries how many of its tokens are computed (in the KV cache)
// and how many it has in all (prompt plus sampled so far). Every step hands
// out a token budget: running requests first (decodes, then prefill chunks in
// arrival order), then waiting requests are admitted into free slots while
// budget and slots last. A request whose computed count reaches its total
// after the step gets logits and samples its next token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace hearth::server {

using RequestId = uint64_t;

// One request's share of a step: tokens [start, start + count) of its
// sequence go to `slot`.
struct ScheduledChunk {
  RequestId id = 0;
  int slot = -1;
  int64_t start = 0;
  int64_t count = 0;
  bool wants_logits = false;  // the chunk ends the known sequence: sample after it
  bool admitted = false;      // the request got its slot in this step
};

class Scheduler {
 public:
  // step_budget: most tokens one step evaluates; max_waiting: queue bound.
  Scheduler(int n_slots, int64_t step_budget, size_t max_waiting);

  // Queues a request with `prompt_tokens` tokens; false when the queue is full.
  bool submit(RequestId id, int64_t prompt_tokens);
  // A token was sampled for a running request: one more to compute.
  void append_token(RequestId id);
  // Drops a request, waiting or running, and frees its slot; false if unknown.
  bool remove(RequestId id);

  // What a free slot offers a waiting request: `reuse` tokens of its prompt
  // whose KV the slot can start from (the engine's prefix cache; capped so
  // at least one prompt token is computed: its logits are needed), and a
  // score, highest wins. A bare count is both.
  struct SlotOffer {
    int64_t reuse = 0;
    double score = 0;
    SlotOffer(int64_t reuse_tokens = 0) : reuse(reuse_tokens), score(double(reuse_tokens)) {}
    SlotOffer(int64_t reuse_tokens, double slot_score) : reuse(reuse_tokens), score(slot_score) {}
  };
  using ReuseFn = std::function<SlotOffer(RequestId, int)>;
  // Takes what an offer promised, at once: a request is started on its slot
  // before the next waiting request is offered one, so a later admission
  // (which may evict cached blocks to make room) cannot take what an earlier
  // offer counted on. Returns the tokens actually reused (at most `reuse`),
  // or a negative number when the request cannot start: it leaves the
  // scheduler, its slot stays free, and the caller fails that request alone.
  using AdmitFn = std::function<int64_t(RequestId, int slot, int64_t reuse)>;
  // Where a request's chunk may end: given tokens [start, start + count),
  // the largest count' <= count it allows (0: nothing this step). Images
  // must be evaluated whole in one step. Unset: any count.
  using ChunkFitFn = std::function<int64_t(RequestId, int64_t start, int64_t count)>;
  void set_chunk_fit(ChunkFitFn fit) { fit_ = std::move(fit); }
  // Plans one step into `out` (cleared first). Marks the chunks computed:
  // call this once per step that actually runs.
  void schedule(const ReuseFn& reusable, std::vector<ScheduledChunk>& out, const AdmitFn& admit = {});

  int n_slots() const { return int(slot_owner_.size()); }
  size_t waiting() const { return waiting_.size(); }
  size_t running() const { return running_.size(); }
  bool idle() const { return waiting_.empty() && running_.empty(); }
  // Slot of a running request, -1 otherwise.
  int slot_of(RequestId id) const;
  int64_t computed(RequestId id) const;
  int64_t total(RequestId id) const;

 private:
  struct Entry {
    RequestId id;
    int64_t computed = 0;
    int64_t total = 0;
    int slot = -1;
  };
  Entry* find_running(RequestId id);
  const Entry* find_any(RequestId id) const;

  ChunkFitFn fit_;
  int64_t step_budget_;
  size_t max_waiting_;
  std::deque<Entry> waiting_;
  std::vector<Entry> running_;          // in admission order
  std::vector<RequestId> slot_owner_;   // 0: free (ids start at 1)
};

}  // namespace hearth::server

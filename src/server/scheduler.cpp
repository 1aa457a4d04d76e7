#include "server/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace hearth::server {

Scheduler::Scheduler(int n_slots, int64_t step_budget, size_t max_waiting)
    : step_budget_(step_budget), max_waiting_(max_waiting), slot_owner_(size_t(std::max(n_slots, 0)), 0) {
  if (n_slots <= 0) fail("--parallel must be at least 1, got {}", n_slots);
  if (step_budget <= 0) fail("the step token budget must be positive, got {}", step_budget);
  running_.reserve(size_t(n_slots));
}

bool Scheduler::submit(RequestId id, int64_t prompt_tokens) {
  if (id == 0) fail("request ids start at 1");
  if (prompt_tokens <= 0) fail("a request needs at least one prompt token");
  if (waiting_.size() >= max_waiting_) return false;
  waiting_.push_back(Entry{id, 0, prompt_tokens, -1});
  return true;
}

Scheduler::Entry* Scheduler::find_running(RequestId id) {
  for (Entry& e : running_)
    if (e.id == id) return &e;
  return nullptr;
}

const Scheduler::Entry* Scheduler::find_any(RequestId id) const {
  for (const Entry& e : running_)
    if (e.id == id) return &e;
  for (const Entry& e : waiting_)
    if (e.id == id) return &e;
  return nullptr;
}

void Scheduler::append_token(RequestId id) {
  Entry* e = find_running(id);
  if (!e) fail("append_token: request {} is not running", id);
  e->total += 1;
}

bool Scheduler::remove(RequestId id) {
  for (auto it = running_.begin(); it != running_.end(); ++it) {
    if (it->id != id) continue;
    slot_owner_[size_t(it->slot)] = 0;
    running_.erase(it);
    return true;
  }
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->id != id) continue;
    waiting_.erase(it);
    return true;
  }
  return false;
}

int Scheduler::slot_of(RequestId id) const {
  for (const Entry& e : running_)
    if (e.id == id) return e.slot;
  return -1;
}

int64_t Scheduler::computed(RequestId id) const {
  const Entry* e = find_any(id);
  return e ? e->computed : -1;
}

int64_t Scheduler::total(RequestId id) const {
  const Entry* e = find_any(id);
  return e ? e->total : -1;
}

void Scheduler::schedule(const ReuseFn& reusable, std::vector<ScheduledChunk>& out, const AdmitFn& admit) {
  out.clear();
  int64_t budget = step_budget_;
  const auto give = [&](Entry& e, bool admitted) {
    int64_t count = std::min(e.total - e.computed, budget);
    if (fit_ && count > 0) count = std::clamp<int64_t>(fit_(e.id, e.computed, count), 0, count);
    // An admitted request is announced even with nothing to compute yet.
    if (count <= 0 && !admitted) return;
    out.push_back(ScheduledChunk{e.id, e.slot, e.computed, count, e.computed + count == e.total, admitted});
    e.computed += count;
    budget -= count;
  };
  // Decodes first: one token each keeps every stream moving.
  for (Entry& e : running_)
    if (e.total - e.computed == 1) give(e, false);
  for (Entry& e : running_)
    if (e.total - e.computed > 1) give(e, false);
  while (budget > 0 && !waiting_.empty()) {
    // The free slot that already holds most of this prompt.
    Entry e = waiting_.front();
    int best_slot = -1;
    int64_t best_reuse = 0;
    double best_score = 0;
    for (int s = 0; s < n_slots(); ++s) {
      if (slot_owner_[size_t(s)] != 0) continue;
      const SlotOffer offer = reusable ? reusable(e.id, s) : SlotOffer{};
      if (best_slot < 0 || offer.score > best_score) {
        best_slot = s;
        best_score = offer.score;
        best_reuse = std::clamp<int64_t>(offer.reuse, 0, e.total - 1);
      }
    }
    if (best_slot < 0) break;
    waiting_.pop_front();
    if (admit) {
      const int64_t reused = admit(e.id, best_slot, best_reuse);
      if (reused < 0) continue;  // could not start: dropped, the slot stays free
      best_reuse = std::min(reused, best_reuse);
    }
    e.slot = best_slot;
    e.computed = best_reuse;
    slot_owner_[size_t(best_slot)] = e.id;
    running_.push_back(e);
    give(running_.back(), true);
  }
}

}  // namespace hearth::server

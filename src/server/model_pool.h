// Which served models are in memory, and which must leave to make room: the
// bookkeeping of a multi-model server without the models themselves (the
// registry, model_registry.h, loads and unloads them; this class only
// decides), so it is tested with names and sizes alone.
//
//   - The budget: the planned bytes of every loaded (or loading) model stay
//     within it, in each memory it counts (the host's, and each device's
//     when models run on GPUs: a Footprint holds a model's bytes in each).
//     A model that needs room makes the least recently used idle
//     models leave, oldest first; models in use never do, so a load may have
//     to wait for them. A model larger than the whole budget can never load.
//   - keep_alive, as Ollama has it: a model stays loaded for keep_alive after
//     its last request ends (default 5 minutes), 0 unloads it as soon as it
//     is idle, a negative value keeps it until the server stops. A request
//     sets the model's keep_alive; the time counts only while it is idle.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::server {

// How long an idle model stays loaded; nullopt: until the server stops.
using KeepAlive = std::optional<std::chrono::milliseconds>;

// Ollama's keep_alive: a number of seconds (negative: forever), or a string:
// a Go duration ("5m", "1h30m", "90s", "1.5h", "500ms", "-1m") or a plain
// number of seconds ("300", "-1"). Throws ApiError 400 naming the field on
// anything else. A null or missing value is `fallback`.
KeepAlive parse_keep_alive(const nlohmann::json& value, KeepAlive fallback);

// Bytes in each memory a pool budgets: [0] the host's, then one per device.
using Footprint = std::vector<uint64_t>;

class ModelPool {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    std::string name;
    uint64_t bytes = 0;       // planned memory, in all memories together
    Footprint footprint;      // planned memory in each
    int in_use = 0;           // requests holding it (a load in progress counts as one)
    bool loading = false;
    Clock::time_point last_used{};
    KeepAlive keep_alive;     // from the latest request
    // When it leaves if still idle; nullopt while in use or when kept forever.
    std::optional<Clock::time_point> expires_at;
  };

  // What a load of `bytes` must do first.
  struct Room {
    enum class Verdict {
      Fits,      // load now (after unloading `evict`, which may be empty)
      Wait,      // models in use hold the memory: wait until one is released
      TooLarge,  // more than the whole budget: can never load
    };
    Verdict verdict = Verdict::Fits;
    std::vector<std::string> evict;  // idle models to unload first, least recently used first
    size_t memory = 0;  // TooLarge or Wait: the memory (index in the footprint) that lacks room
  };

  // The host's memory alone.
  explicit ModelPool(uint64_t budget) : budgets_{budget} {}
  // One budget per memory (a Footprint); at least one, the host's.
  explicit ModelPool(Footprint budgets);

  // The host's budget and use; budgets() and used_in(i) for each memory.
  uint64_t budget() const { return budgets_[0]; }
  uint64_t used() const { return used_in(0); }
  const Footprint& budgets() const { return budgets_; }
  uint64_t used_in(size_t memory) const;
  const Entry* find(const std::string& name) const;
  // Every entry, most recently used first.
  std::vector<Entry> entries() const;

  // The room a load of `bytes` (host memory alone) or of a footprint needs
  // (the pool is not changed). A footprint shorter than the budgets needs
  // nothing of the memories it leaves out.
  Room make_room(uint64_t bytes) const { return make_room(Footprint{bytes}); }
  Room make_room(const Footprint& need) const;

  // A load starts: the model counts against the budget and is in use by the
  // request that loads it. `finish_load` when it is ready (the loading
  // request keeps it), `remove` when it failed or left.
  void start_load(const std::string& name, uint64_t bytes, Clock::time_point now) {
    start_load(name, Footprint{bytes}, now);
  }
  void start_load(const std::string& name, const Footprint& need, Clock::time_point now);
  void finish_load(const std::string& name);
  void remove(const std::string& name);

  // A request takes a loaded model / lets it go, with its keep_alive.
  void acquire(const std::string& name, Clock::time_point now);
  void release(const std::string& name, KeepAlive keep_alive, Clock::time_point now);
  // The model's keep_alive changes without a request (Ollama's empty
  // prompt): idle, it expires keep_alive from now.
  void set_keep_alive(const std::string& name, KeepAlive keep_alive, Clock::time_point now);

  // Idle models whose keep_alive ran out by `now`.
  std::vector<std::string> expired(Clock::time_point now) const;
  // The earliest time an idle model expires, if any does.
  std::optional<Clock::time_point> next_expiry() const;

 private:
  Entry* entry(const std::string& name);
  Footprint budgets_;
  std::vector<Entry> entries_;
};

}  // namespace hearth::server

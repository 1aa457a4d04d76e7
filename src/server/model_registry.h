// The models a server offers and the ones it has in memory. Models named on
// the command line are loaded at start; with a store, any stored model or
// preset is loaded on the first request that names it. A ModelPool decides
// (model_pool.h): loads are sized beforehand with the memory planner
// (plan/plan.h), the least recently used idle models leave to make room under
// the budget, and idle models leave when their keep_alive runs out (a thread
// here unloads them). Each loaded model has its own engine loop, so requests
// to different models run at the same time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/model_pool.h"
#include "server/served_model.h"
#include "store/hub.h"
#include "store/store.h"

namespace hearth::server {

// One model the server can load, under the name requests give.
struct ModelSpec {
  std::string name;
  ModelLoadOptions load;       // load.id == name
  KeepAlive keep_alive;        // when a request gives none
  bool from_store = false;
  bool is_preset = false;
  bool resident = false;       // loaded elsewhere (adopt): never unloaded, whatever keep_alive says
  std::string digest;          // sha256 of the (first) file when known
  std::string modified_at;     // ISO 8601, "" when unknown
  uint64_t file_bytes = 0;     // the GGUF file(s) on disk
};

struct RegistryOptions {
  uint64_t max_memory = 0;  // host bytes the loaded models may plan together; 0: no limit
  // (Device memory: engine.devices->budgets, one per device.)
  KeepAlive keep_alive = std::chrono::minutes(5);  // store models' default
  ModelLoadOptions engine;  // engine settings for store models (path and id unused)
  bool ctx_given = false, ctk_given = false, ctv_given = false;  // so a preset's values apply otherwise
  bool flash_attn_auto = true;  // fused attention exactly when the V cache is quantized (--fa auto)
  std::optional<store::Store> store;  // serve its models by name
  store::HubConfig hub;               // for /api/pull
  std::chrono::seconds max_wait{300}; // a load waits this long for models in use to free memory
  bool log = true;                    // a line per load and unload on stderr
};

class ModelRegistry;

// A request's hold on a loaded model: while any copy is alive the model is in
// use and never unloaded. The last copy to go releases it with the request's
// keep_alive.
class ModelLease {
 public:
  ModelLease() = default;
  ServedModel& operator*() const { return *use_->model; }
  ServedModel* operator->() const { return use_->model.get(); }
  explicit operator bool() const { return use_ != nullptr; }
  // Time this request spent loading the model (zero when it was loaded).
  std::chrono::nanoseconds load_duration() const { return use_ ? use_->load_time : std::chrono::nanoseconds(0); }

 private:
  friend class ModelRegistry;
  struct Use {
    ModelRegistry* registry = nullptr;
    std::shared_ptr<ServedModel> model;
    KeepAlive keep_alive;
    std::chrono::nanoseconds load_time{0};
    ~Use();
  };
  std::shared_ptr<Use> use_;
};

class ModelRegistry {
 public:
  ModelRegistry(std::vector<ModelSpec> pinned, RegistryOptions options);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Loads the command-line models (their sum must fit the budget). Throws
  // the load's error.
  void load_pinned();
  // Serves a model loaded elsewhere as a command-line one (tests, fuzzing).
  void adopt(std::shared_ptr<ServedModel> model);

  // The model a request names, loaded if it was not (waiting for memory
  // that models in use hold, up to max_wait), with `keep_alive` the
  // request's field (null: the model's default). An empty name is the first
  // command-line model, else the most recently used one. Throws ApiError:
  // 404 for an unknown name, 400 for a model larger than the whole budget
  // (naming both sizes), 503 when memory did not free in time, 500 when the
  // load failed.
  //
  // `min_ctx` (Ollama's options.num_ctx; 0: none) is the context per
  // conversation the request needs. A model loaded with less is reloaded
  // with min_ctx (once its running requests end), as Ollama does; one loaded
  // with as much or more is used as it is, never reloaded for a smaller one.
  // A context whose plan is larger than the whole budget is a 400 naming the
  // context and both sizes, and the loaded model stays.
  ModelLease acquire(const std::string& name, const nlohmann::json& keep_alive = nullptr, int64_t min_ctx = 0);
  // Ollama's empty prompt: loads the model (keep_alive > 0 or forever) or,
  // with keep_alive 0, unloads it once idle. Returns whether it is loaded.
  bool preload_or_unload(const std::string& name, const nlohmann::json& keep_alive, int64_t min_ctx = 0);

  // The spec a name resolves to (":latest" ignored), or nullopt.
  std::optional<ModelSpec> find(const std::string& name) const;
  // Every model that can be served: command-line ones, then the store's.
  std::vector<ModelSpec> catalog() const;

  struct Loaded {
    std::shared_ptr<ServedModel> model;
    ModelSpec spec;
    uint64_t bytes = 0;  // planned, host and devices together
    uint64_t device_bytes = 0;  // of which on the devices
    int in_use = 0;
    std::optional<std::chrono::system_clock::time_point> expires_at;  // nullopt: kept loaded
  };
  // Loaded models, most recently used first.
  std::vector<Loaded> loaded() const;
  // A loaded model by name (no lease: for reading its description).
  std::shared_ptr<ServedModel> loaded_model(const std::string& name) const;
  // Loads of each model since the server started.
  std::map<std::string, int64_t> load_counts() const;
  // Unloads the model now if idle, else as soon as its requests end.
  void unload(const std::string& name);
  // The planned bytes of a model with this server's settings: host memory
  // first, then each device's (engine.devices) for the layers placed there.
  Footprint planned_bytes(const ModelSpec& spec) const;
  // "memory" for the host's, else the device's id ("vulkan0 memory").
  std::string memory_name(size_t memory) const;

  const RegistryOptions& options() const { return options_; }
  const store::Store* store() const { return options_.store ? &*options_.store : nullptr; }

 private:
  friend struct ModelLease::Use;
  struct Slot {
    ModelSpec spec;
    std::shared_ptr<ServedModel> model;  // null while loading
  };
  ModelSpec store_spec(const store::Manifest& entry) const;
  // The context per conversation a spec loads with (its n_ctx, else the
  // GGUF's training context capped at 4096, as ServedModel::load picks).
  static int64_t effective_ctx(const ModelSpec& spec);
  void release(const std::string& name, KeepAlive keep_alive);
  // Takes expired models out (mutex_ held); the caller destroys them unlocked.
  void take_expired(std::vector<std::shared_ptr<ServedModel>>& out);
  void reap();

  std::vector<ModelSpec> pinned_;
  RegistryOptions options_;
  mutable std::mutex mutex_;  // guards pool_, slots_, loads_, stop_, plan_cache_
  std::condition_variable cv_;
  ModelPool pool_;
  std::map<std::string, Slot> slots_;  // loaded or loading
  std::map<std::string, int64_t> loads_;
  mutable std::map<std::string, Footprint> plan_cache_;  // path + settings -> bytes
  bool stop_ = false;
  std::thread reaper_;
};

}  // namespace hearth::server

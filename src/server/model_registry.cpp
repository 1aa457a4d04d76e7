#include "server/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "backend/cpu/kernels.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "runtime/flash_attention.h"
#include "plan/plan.h"
#include "server/api_error.h"

namespace hearth::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", double(bytes) / double(1 << 20)); }

// The host's budget (--max-memory), then each device's.
Footprint budgets(const RegistryOptions& o) {
  Footprint out{o.max_memory > 0 ? o.max_memory : UINT64_MAX};
  if (const auto& d = o.engine.devices) {
    for (size_t i = 0; i < d->devices.size(); ++i) out.push_back(i < d->budgets.size() ? d->budgets[i] : UINT64_MAX);
  }
  return out;
}

std::string without_latest(const std::string& name) {
  return name.ends_with(":latest") ? name.substr(0, name.size() - 7) : std::string();
}

}  // namespace

ModelLease::Use::~Use() {
  if (registry && model) registry->release(model->id(), keep_alive);
}

ModelRegistry::ModelRegistry(std::vector<ModelSpec> pinned, RegistryOptions options)
    : pinned_(std::move(pinned)),
      options_(std::move(options)),
      pool_(budgets(options_)) {
  for (size_t i = 0; i < pinned_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (pinned_[i].name == pinned_[j].name)
        fail("two models are named '{}': give one of them another name with --alias", pinned_[i].name);
  reaper_ = std::thread([this] { reap(); });
}

ModelRegistry::~ModelRegistry() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  reaper_.join();
}

Footprint ModelRegistry::planned_bytes(const ModelSpec& spec) const {
  const ModelLoadOptions& o = spec.load;
  const int threads = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const std::string key = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", o.path, o.n_ctx, o.n_parallel, o.n_batch,
                                      dtype_name(o.type_k), dtype_name(o.type_v), threads, o.cache_mb, o.isa, o.mmproj);
  {
    std::lock_guard lock(mutex_);
    if (const auto it = plan_cache_.find(key); it != plan_cache_.end()) return it->second;
  }
  // The header alone: the weights are mapped, not read.
  auto file = std::make_shared<const gguf::File>(gguf::File::open(o.path));
  const auto model = model::Model::load(file);
  plan::PlanOptions p;
  p.n_ctx = o.n_ctx;
  p.n_parallel = o.n_parallel;
  p.paged = true;
  p.n_batch = o.n_batch;
  p.type_k = o.type_k;
  p.type_v = o.type_v;
  p.n_threads = threads;
  const cpu::Kernels kernels =
      o.isa.empty() ? cpu::select_kernels(cpu::detect_cpu_features()) : cpu::select_kernels_for(o.isa);
  p.packed_types = plan::cpu_packed_types(kernels);
  if (o.cache_mb > 0) {  // as ServedModel::load sizes the prefix cache's extra blocks
    const uint64_t block_bytes = kv::KvCache::bytes_for(kv::KvConfig{p.kv_block_size, o.type_k, o.type_v},
                                                        model->kv_widths_k(), model->kv_widths_v());
    p.n_cache_blocks = int64_t((uint64_t(o.cache_mb) << 20) / std::max<uint64_t>(block_bytes, 1));
  }
  const plan::Plan host = plan::make_plan(*model, p);
  const size_t n_devices = o.devices ? o.devices->devices.size() : 0;
  Footprint bytes(1 + n_devices, 0);
  bytes[0] = host.total();
  // Layers on devices: their bytes count against the device's budget, as
  // `hearth plan --devices` plans a device (its backend's allocations), and
  // no longer against the host's. Fully offloaded onto one device it is
  // that plan exactly, and the host keeps the header; a split counts each
  // device's layers, its own workspace and (on the output's device) the
  // embeddings and output, and the host what its plan has left.
  const std::vector<runtime::LayerRun> runs = ServedModel::layer_runs(*model, o);
  const bool offloaded_any =
      std::any_of(runs.begin(), runs.end(), [](const runtime::LayerRun& r) { return r.device != runtime::kCpuDevice; });
  if (offloaded_any) {
    const bool cpu_part =
        std::any_of(runs.begin(), runs.end(), [](const runtime::LayerRun& r) { return r.device == runtime::kCpuDevice; });
    uint64_t left_host = 0;  // host plan bytes of the offloaded layers
    for (size_t r = 0; r < runs.size(); ++r) {
      const runtime::LayerRun& run = runs[r];
      if (run.device == runtime::kCpuDevice) continue;
      const backend::DeviceInfo& info = o.devices->devices[size_t(run.device)]->info();
      plan::PlanOptions dp = p;
      dp.device = true;
      dp.device_alignment = info.buffer_alignment;
      dp.device_staging = info.staging_bytes;
      const plan::Plan d = plan::make_plan(*model, dp);
      uint64_t& on_device = bytes[1 + size_t(run.device)];
      if (runs.size() == 1) {
        on_device = d.total();
        continue;
      }
      on_device += d.compute;
      for (int l = run.first_layer; l < run.end_layer; ++l) {
        on_device += d.layers[size_t(l)].weights + d.layers[size_t(l)].kv;
        left_host += host.layers[size_t(l)].weights + host.layers[size_t(l)].kv;
      }
      if (r + 1 == runs.size()) {
        on_device += d.weights - std::min(d.weights, d.weights_layers);
        left_host += runtime::output_weight_bytes(*model);
      }
    }
    bytes[0] = cpu_part ? std::max(host.overhead, host.total() - std::min(host.total(), left_host)) : host.overhead;
  }
  std::error_code ec;
  if (!o.mmproj.empty()) bytes[0] += uint64_t(std::filesystem::file_size(o.mmproj, ec));  // the projector's weights
  std::lock_guard lock(mutex_);
  plan_cache_[key] = bytes;
  return bytes;
}

std::string ModelRegistry::memory_name(size_t memory) const {
  if (memory == 0 || !options_.engine.devices) return "memory";
  return options_.engine.devices->devices[memory - 1]->info().id + " memory";
}

ModelSpec ModelRegistry::store_spec(const store::Manifest& entry) const {
  ModelSpec s;
  s.name = entry.name;
  s.from_store = true;
  s.keep_alive = options_.keep_alive;
  s.load = options_.engine;
  s.load.id = entry.name;
  s.modified_at = entry.created;
  const store::Manifest base = options_.store->resolve_model(entry.name);
  s.load.path = base.files.front().path;
  s.digest = base.files.front().sha256;
  s.file_bytes = base.total_size();
  if (base.mmproj) s.load.mmproj = base.mmproj->path;  // the projector pulled with it: images work by name
  if (entry.kind == "preset") {
    s.is_preset = true;
    const store::Preset& p = entry.preset;
    s.load.preset = p;
    s.load.chat_template = p.template_text;
    const auto cache_type = [](const std::string& name) {
      const auto t = dtype_from_name(name);
      if (!t) fail("unknown cache type '{}' (use f32, f16, bf16, q8_0 or q4_0)", name);
      return *t;
    };
    if (p.ctx && !options_.ctx_given) s.load.n_ctx = *p.ctx;
    if (p.ctk && !options_.ctk_given) s.load.type_k = cache_type(*p.ctk);
    if (p.ctv && !options_.ctv_given) s.load.type_v = cache_type(*p.ctv);
    if (options_.flash_attn_auto) s.load.flash_attn = runtime::use_flash_attention("auto", s.load.type_v);
  }
  return s;
}

std::optional<ModelSpec> ModelRegistry::find(const std::string& name) const {
  for (const std::string& candidate : {name, without_latest(name)}) {
    if (candidate.empty()) continue;
    for (const ModelSpec& s : pinned_)
      if (s.name == candidate) return s;
    if (options_.store)
      if (const auto entry = options_.store->find(candidate)) return store_spec(*entry);
  }
  return std::nullopt;
}

std::vector<ModelSpec> ModelRegistry::catalog() const {
  std::vector<ModelSpec> out = pinned_;
  if (options_.store) {
    for (const store::Manifest& m : options_.store->list()) {
      if (std::any_of(out.begin(), out.end(), [&](const ModelSpec& s) { return s.name == m.name; })) continue;
      try {
        out.push_back(store_spec(m));
      } catch (const std::exception&) {
        // A preset whose base is gone, a damaged entry: not offered.
      }
    }
  }
  return out;
}

void ModelRegistry::load_pinned() {
  Footprint sum(pool_.budgets().size(), 0);
  for (const ModelSpec& s : pinned_) {
    const Footprint need = planned_bytes(s);
    for (size_t i = 0; i < sum.size() && i < need.size(); ++i) sum[i] += need[i];
  }
  if (options_.max_memory > 0 && sum[0] > options_.max_memory)
    fail("the models given take {} together, more than --max-memory {}: give fewer models or a larger --max-memory",
         mib(sum[0]), mib(options_.max_memory));
  for (size_t i = 1; i < sum.size(); ++i)
    if (sum[i] > pool_.budgets()[i])
      fail("the models given take {} of {} together, more than its budget of {} (--max-device-memory): give fewer "
           "models, fewer --gpu-layers or a larger --max-device-memory",
           mib(sum[i]), memory_name(i), mib(pool_.budgets()[i]));
  for (const ModelSpec& s : pinned_) acquire(s.name);
}

int64_t ModelRegistry::effective_ctx(const ModelSpec& spec) {
  if (spec.load.n_ctx > 0) return spec.load.n_ctx;
  const gguf::File file = gguf::File::open(spec.load.path);  // the header alone
  const std::string arch = file.metadata().get_string_or("general.architecture", "");
  const int64_t n_ctx_train = file.metadata().get_int_or(arch + ".context_length", 0);
  return std::min<int64_t>(n_ctx_train > 0 ? n_ctx_train : 4096, 4096);
}

ModelLease ModelRegistry::acquire(const std::string& requested, const nlohmann::json& keep_alive_field,
                                  int64_t min_ctx) {
  std::string name = requested;
  if (name.empty()) {
    std::lock_guard lock(mutex_);
    if (!pinned_.empty()) name = pinned_.front().name;
    else if (const auto entries = pool_.entries(); !entries.empty()) name = entries.front().name;
  }
  if (name.empty()) bad_request("model", "'model' is required: name one of the models in the store");
  std::optional<ModelSpec> found;
  try {
    found = find(name);
  } catch (const Error& e) {  // a damaged manifest, a preset whose base is gone
    throw ApiError(400, fmt::format("model '{}' cannot be served: {}", name, e.what()), "invalid_request_error", "model");
  }
  if (!found) {
    std::string known;
    for (const ModelSpec& s : catalog()) known += (known.empty() ? "" : ", ") + s.name;
    throw ApiError(404, fmt::format("The model '{}' does not exist. This server has: {}", name,
                                    known.empty() ? "(none)" : known),
                   "invalid_request_error", "model", "model_not_found");
  }
  ModelSpec spec = *found;
  bool ctx_from_request = false;  // the request's num_ctx raised the context
  if (min_ctx > 0 && !spec.resident) {
    // A larger context than the spec's loads with it; a smaller one changes nothing.
    int64_t ctx = 0;
    try {
      ctx = effective_ctx(spec);
    } catch (const std::exception& e) {
      throw ApiError(500, fmt::format("model '{}' could not be read: {}", spec.name, e.what()), "server_error");
    }
    if (min_ctx > ctx) {
      spec.load.n_ctx = min_ctx;
      ctx_from_request = true;
    }
  }
  ModelLease lease;
  lease.use_ = std::make_shared<ModelLease::Use>();
  lease.use_->keep_alive = parse_keep_alive(keep_alive_field, spec.keep_alive);
  if (spec.resident) lease.use_->keep_alive = std::nullopt;

  std::unique_lock lock(mutex_);
  const auto deadline = SteadyClock::now() + options_.max_wait;
  std::optional<Footprint> bytes;
  // The budget a memory (index in the footprint) is limited by, as words.
  const auto budget_words = [&](size_t m) {
    return m == 0 ? fmt::format("the whole memory budget of {} ({} bytes; --max-memory)", mib(pool_.budgets()[0]),
                                pool_.budgets()[0])
                  : fmt::format("the whole {} budget of {} ({} bytes; --max-device-memory)", memory_name(m),
                                mib(pool_.budgets()[m]), pool_.budgets()[m]);
  };
  const auto larger_budget = [](size_t m) {
    return m == 0 ? "a larger --max-memory" : "a larger --max-device-memory (or fewer --gpu-layers)";
  };
  const auto need = [&](size_t m) { return m < bytes->size() ? (*bytes)[m] : uint64_t(0); };
  // Planning reads the file's header: not under the lock.
  const auto plan_outside_lock = [&] {
    lock.unlock();
    try {
      bytes = planned_bytes(spec);
    } catch (const std::exception& e) {
      throw ApiError(500, fmt::format("model '{}' could not be read: {}", spec.name, e.what()), "server_error");
    }
    lock.lock();
  };
  for (;;) {
    if (stop_) throw ApiError(503, "the server is stopping", "server_error");
    if (const auto it = slots_.find(spec.name); it != slots_.end()) {
      if (!it->second.model) {  // another request is loading it
        cv_.wait(lock);
        continue;
      }
      const int64_t loaded_ctx = it->second.model->n_ctx();
      if (min_ctx > loaded_ctx && !spec.resident) {
        // Reload with the larger context, as Ollama does. First the new
        // plan: a context that can never fit leaves the loaded model alone.
        if (!bytes) {
          plan_outside_lock();
          continue;
        }
        if (const ModelPool::Room whole = pool_.make_room(*bytes); whole.verdict == ModelPool::Room::Verdict::TooLarge)
          throw ApiError(400,
                         fmt::format("model '{}' with a context of {} (num_ctx) needs {} ({} bytes{}), more than {}; "
                                     "it is loaded with a context of {}. Ask for a smaller num_ctx, or give the "
                                     "server {}",
                                     spec.name, min_ctx, mib(need(whole.memory)), need(whole.memory),
                                     whole.memory == 0 ? "" : " of " + memory_name(whole.memory),
                                     budget_words(whole.memory), loaded_ctx, larger_budget(whole.memory)),
                         "invalid_request_error", "num_ctx", "context_too_large");
        const ModelPool::Entry* entry = pool_.find(spec.name);
        if (entry && entry->in_use > 0) {  // its requests run on the smaller context: wait for them
          if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && SteadyClock::now() >= deadline)
            throw ApiError(503,
                           fmt::format("model '{}' must reload with a context of {} but its requests at {} did not "
                                       "end in time; retry later",
                                       spec.name, min_ctx, loaded_ctx),
                           "server_error", "", "model_busy");
          continue;
        }
        if (options_.log)
          fmt::print(stderr, "reloading model '{}': a request asks for a context of {}, it was loaded with {}\n",
                     spec.name, min_ctx, loaded_ctx);
        pool_.remove(spec.name);
        std::shared_ptr<ServedModel> old = std::move(it->second.model);
        slots_.erase(it);
        lock.unlock();
        old.reset();  // its engine stops and its memory goes before the new load
        lock.lock();
        cv_.notify_all();
        continue;
      }
      pool_.acquire(spec.name, SteadyClock::now());
      lease.use_->model = it->second.model;
      lease.use_->registry = this;
      return lease;
    }
    if (!bytes) {
      plan_outside_lock();
      continue;  // the pool may have changed meanwhile
    }
    const ModelPool::Room room = pool_.make_room(*bytes);
    const size_t m = room.memory;
    const std::string of_memory = m == 0 ? "" : " of " + memory_name(m);
    if (room.verdict == ModelPool::Room::Verdict::TooLarge && ctx_from_request)
      throw ApiError(400,
                     fmt::format("model '{}' with a context of {} (num_ctx) needs {} ({} bytes{}), more than {}. Ask "
                                 "for a smaller num_ctx, or give the server {}",
                                 spec.name, min_ctx, mib(need(m)), need(m), of_memory, budget_words(m),
                                 larger_budget(m)),
                     "invalid_request_error", "num_ctx", "context_too_large");
    if (room.verdict == ModelPool::Room::Verdict::TooLarge)
      throw ApiError(400,
                     fmt::format("model '{}' needs {} ({} bytes{}) with this server's settings, more than {}: it "
                                 "cannot be loaded even alone. Give the server {}, or a smaller --ctx or --parallel",
                                 spec.name, mib(need(m)), need(m), of_memory, budget_words(m), larger_budget(m)),
                     "invalid_request_error", "model", "model_too_large");
    if (room.verdict == ModelPool::Room::Verdict::Wait) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && SteadyClock::now() >= deadline)
        throw ApiError(503,
                       fmt::format("model '{}' needs {}{} but the models in use hold {} of the {} budget; retry when "
                                   "their requests end",
                                   spec.name, mib(need(m)), of_memory, mib(pool_.used_in(m)), mib(pool_.budgets()[m])),
                       "server_error", "", "insufficient_memory");
      continue;
    }
    // Room: the idle models that must leave go first, then the load.
    std::vector<std::shared_ptr<ServedModel>> evicted;
    for (const std::string& victim : room.evict) {
      if (options_.log) fmt::print(stderr, "unloading model '{}' to make room for '{}'\n", victim, spec.name);
      pool_.remove(victim);
      evicted.push_back(std::move(slots_[victim].model));
      slots_.erase(victim);
    }
    pool_.start_load(spec.name, *bytes, SteadyClock::now());
    slots_[spec.name] = Slot{spec, nullptr};
    lock.unlock();
    evicted.clear();  // their engines stop and their memory goes here, before the load
    const auto started = SteadyClock::now();
    std::shared_ptr<ServedModel> model;
    std::string error;
    try {
      model = ServedModel::load(spec.load);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (!model) {
      pool_.remove(spec.name);
      slots_.erase(spec.name);
      cv_.notify_all();
      throw ApiError(500, fmt::format("model '{}' could not be loaded: {}", spec.name, error), "server_error");
    }
    lease.use_->load_time = SteadyClock::now() - started;
    slots_[spec.name].model = model;
    pool_.finish_load(spec.name);
    ++loads_[spec.name];
    if (options_.log) {
      std::string devices;  // what the devices hold, when there are any
      for (size_t i = 1; i < bytes->size(); ++i)
        devices += fmt::format("; {} {} of {} in use", memory_name(i), mib(pool_.used_in(i)), mib(pool_.budgets()[i]));
      fmt::print(stderr, "loaded model '{}' ({}, planned {}; {} of {} in use{}) in {:.2f} s\n", spec.name,
                 spec.load.path, mib(pool_.find(spec.name)->bytes), mib(pool_.used()),
                 options_.max_memory > 0 ? mib(options_.max_memory) : std::string("no limit"), devices,
                 std::chrono::duration<double>(lease.use_->load_time).count());
      // Where its layers run (the command line's models: `hearth serve` prints it at start).
      const bool pinned =
          std::any_of(pinned_.begin(), pinned_.end(), [&](const ModelSpec& p) { return p.name == spec.name; });
      const std::string& where = model->placement();
      for (size_t start = 0; !pinned && start < where.size();) {
        const size_t end = std::min(where.find('\n', start), where.size());
        fmt::print(stderr, "model '{}': {}\n", spec.name, where.substr(start, end - start));
        start = end + 1;
      }
    }
    cv_.notify_all();
    lease.use_->model = std::move(model);
    lease.use_->registry = this;
    return lease;
  }
}

bool ModelRegistry::preload_or_unload(const std::string& name, const nlohmann::json& keep_alive_field,
                                      int64_t min_ctx) {
  const std::optional<ModelSpec> spec = find(name);
  if (spec) {
    const KeepAlive keep_alive = parse_keep_alive(keep_alive_field, spec->keep_alive);
    if (keep_alive && keep_alive->count() == 0 && !spec->resident) {
      unload(spec->name);
      return false;
    }
  }
  acquire(name, keep_alive_field, min_ctx);  // the lease goes at once: loaded, idle, with its keep_alive
  return true;
}

void ModelRegistry::release(const std::string& name, KeepAlive keep_alive) {
  {
    std::lock_guard lock(mutex_);
    pool_.release(name, keep_alive, SteadyClock::now());
  }
  cv_.notify_all();
}

void ModelRegistry::unload(const std::string& name) {
  std::vector<std::shared_ptr<ServedModel>> dead;
  {
    std::lock_guard lock(mutex_);
    if (!pool_.find(name)) return;
    pool_.set_keep_alive(name, std::chrono::milliseconds(0), SteadyClock::now());
    take_expired(dead);
  }
  cv_.notify_all();
}

void ModelRegistry::take_expired(std::vector<std::shared_ptr<ServedModel>>& out) {
  for (const std::string& name : pool_.expired(SteadyClock::now())) {
    const auto it = slots_.find(name);
    if (it == slots_.end() || !it->second.model) continue;
    if (options_.log) fmt::print(stderr, "unloading model '{}' (keep_alive ran out)\n", name);
    pool_.remove(name);
    out.push_back(std::move(it->second.model));
    slots_.erase(it);
  }
}

void ModelRegistry::reap() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    std::vector<std::shared_ptr<ServedModel>> dead;
    take_expired(dead);
    if (!dead.empty()) {
      lock.unlock();
      dead.clear();  // engines stop outside the lock
      lock.lock();
      cv_.notify_all();
      continue;
    }
    if (const auto next = pool_.next_expiry()) cv_.wait_until(lock, *next);
    else cv_.wait(lock);
  }
}

std::vector<ModelRegistry::Loaded> ModelRegistry::loaded() const {
  std::lock_guard lock(mutex_);
  std::vector<Loaded> out;
  const auto steady_now = SteadyClock::now();
  const auto wall_now = std::chrono::system_clock::now();
  for (const ModelPool::Entry& e : pool_.entries()) {
    const auto it = slots_.find(e.name);
    if (it == slots_.end() || !it->second.model) continue;
    uint64_t on_devices = 0;
    for (size_t i = 1; i < e.footprint.size(); ++i) on_devices += e.footprint[i];
    Loaded l{it->second.model, it->second.spec, e.bytes, on_devices, e.in_use, std::nullopt};
    if (e.expires_at) {
      l.expires_at = wall_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(*e.expires_at - steady_now);
    } else if (e.in_use > 0) {  // the keep_alive it will get when its requests end
      const KeepAlive k = e.keep_alive ? e.keep_alive : it->second.spec.keep_alive;
      if (k) l.expires_at = wall_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(*k);
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::shared_ptr<ServedModel> ModelRegistry::loaded_model(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = slots_.find(name);
  return it == slots_.end() ? nullptr : it->second.model;
}

std::map<std::string, int64_t> ModelRegistry::load_counts() const {
  std::lock_guard lock(mutex_);
  return loads_;
}

}  // namespace hearth::server

namespace hearth::server {

void ModelRegistry::adopt(std::shared_ptr<ServedModel> model) {
  ModelSpec spec;
  spec.name = model->id();
  spec.load.path = model->path();
  spec.load.id = model->id();
  spec.keep_alive = std::nullopt;
  spec.resident = true;
  spec.file_bytes = model->file_size();
  for (const ModelSpec& s : pinned_)
    if (s.name == spec.name) fail("two models are named '{}': give one of them another name with --alias", s.name);
  std::lock_guard lock(mutex_);
  pinned_.push_back(spec);
  pool_.start_load(spec.name, model->file_size(), SteadyClock::now());
  pool_.finish_load(spec.name);
  pool_.release(spec.name, std::nullopt, SteadyClock::now());
  slots_[spec.name] = Slot{spec, std::move(model)};
  ++loads_[spec.name];
}

}  // namespace hearth::server

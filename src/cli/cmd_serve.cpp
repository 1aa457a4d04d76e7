// `hearth serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server
// with continuous batching and prefix reuse (src/server).
#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <memory>
#include <optional>
#include <pthread.h>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "cli/engine_options.h"
#include "core/error.h"
#include "runtime/flash_attention.h"
#include "runtime/batch_engine.h"
#include "plan/plan.h"
#include "server/http_server.h"
#include "server/model_registry.h"

namespace hearth::cli {
namespace {

struct ServeOptions {
  std::vector<std::string> models;
  std::vector<std::string> aliases;
  std::vector<std::string> mmprojs;
  bool allow_file_urls = false;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  size_t queue = 64;
  std::optional<std::string> api_key;
  std::string cors;
  std::vector<std::string> allowed_hosts;
  size_t max_body_mb = 32;
  size_t cache_mb = 0;
  bool quiet = false;
  std::string max_memory;          // "": from the machine
  std::string max_device_memory;   // "": each device's memory less a tenth; else a size, or one per device
  std::string keep_alive = "5m";   // store models' default
  bool serve_store = false;        // the store as well as the models named
  EngineOptions engine;
  bool ctk_given = false, ctv_given = false;  // so a preset's K/V types apply only when not given
};

DType cache_type(const std::string& name, const char* which) {
  const auto type = dtype_from_name(name);
  if (!type) fail("unknown {} cache type '{}' (use f32, f16, bf16, q8_0 or q4_0)", which, name);
  return *type;
}

// The memory the loaded models may plan together when --max-memory is not
// given: the machine's RAM less a margin for the OS and other programs
// (a tenth, at least 1 GiB).
uint64_t default_max_memory() {
  uint64_t total = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") {
      total = kib * 1024;
      break;
    }
    meminfo.ignore(256, '\n');
  }
  const uint64_t margin = std::max<uint64_t>(total / 10, uint64_t(1) << 30);
  return total > margin + (uint64_t(256) << 20) ? total - margin : uint64_t(256) << 20;
}

// The engine settings every model gets (a preset's ctx and K/V types apply
// where the command line gives none).
server::ModelLoadOptions engine_settings(const ServeOptions& o) {
  server::ModelLoadOptions m;
  m.allow_file_urls = o.allow_file_urls;
  m.n_ctx = o.engine.n_ctx;
  m.n_parallel = o.parallel;
  m.n_batch = o.engine.n_ubatch;
  m.type_k = cache_type(o.engine.type_k, "K");
  m.type_v = cache_type(o.engine.type_v, "V");
  m.flash_attn = runtime::use_flash_attention(o.engine.flash_attn, m.type_v);
  m.n_threads = o.engine.n_threads;
  m.isa = o.engine.isa;
  m.max_queue = o.queue;
  m.cache_mb = o.cache_mb;
  return m;
}

// The GPUs every model runs on, opened once (as `hearth run` opens them),
// with the budget of each: --max-device-memory (one size for all, or one per
// device), else its memory less a tenth.
std::shared_ptr<server::ServeDevices> serve_devices(const ServeOptions& o) {
  auto devices = std::make_shared<server::ServeDevices>();
  devices->devices = open_devices(o.engine);
  devices->gpu_layers = o.engine.gpu_layers;
  devices->tensor_split = o.engine.tensor_split;
  std::vector<std::string> sizes;
  for (size_t start = 0; !o.max_device_memory.empty() && start <= o.max_device_memory.size();) {
    const size_t comma = std::min(o.max_device_memory.find(',', start), o.max_device_memory.size());
    sizes.push_back(o.max_device_memory.substr(start, comma - start));
    start = comma + 1;
  }
  if (sizes.size() > 1 && sizes.size() != devices->devices.size())
    fail("--max-device-memory {}: {} sizes for {} device(s); give one size for all, or one per device in --devices "
         "order", o.max_device_memory, sizes.size(), devices->devices.size());
  if (!sizes.empty() && devices->devices.empty())
    fmt::print(stderr, "hearth: --max-device-memory {}: no device in use; it is ignored\n", o.max_device_memory);
  for (size_t i = 0; i < devices->devices.size(); ++i) {
    const uint64_t memory = devices->devices[i]->info().memory_bytes;
    devices->budgets.push_back(sizes.empty() ? memory - memory / 10
                                             : plan::parse_memory_size(sizes[sizes.size() == 1 ? 0 : i]));
  }
  return devices;
}

void serve(const ServeOptions& o) {
  if (o.api_key && o.api_key->empty())
    fail("--api-key is empty: give a key, or leave the option out to serve without one");
  server::RegistryOptions registry;
  registry.engine = engine_settings(o);
  registry.engine.devices = serve_devices(o);
  registry.ctx_given = o.engine.n_ctx != 0;
  registry.ctk_given = o.ctk_given;
  registry.ctv_given = o.ctv_given;
  registry.flash_attn_auto = o.engine.flash_attn == "auto";
  registry.max_memory = o.max_memory.empty() ? default_max_memory() : plan::parse_memory_size(o.max_memory);
  try {
    registry.keep_alive = server::parse_keep_alive(o.keep_alive, std::chrono::minutes(5));
  } catch (const std::exception&) {
    fail("--keep-alive '{}' is not a duration: give e.g. 5m, 1h30m, 90s, a number of seconds, 0 or -1 (forever)",
         o.keep_alive);
  }
  registry.hub = hub_config();
  registry.log = !o.quiet;
  // With no model named, the store is served (models load when a request
  // names them); the bundled stories260K too while the store is empty.
  std::vector<std::string> paths = o.models;
  if (paths.empty() || o.serve_store) {
    try {
      registry.store = open_store();
    } catch (const Error& e) {
      if (o.serve_store) throw;
      fmt::print(stderr, "hearth serve: no model store ({}); serving the bundled model only\n", e.what());
    }
    if (paths.empty() && (!registry.store || registry.store->list().empty())) paths.push_back(default_model_path());
  }
  if (o.mmprojs.size() > paths.size())
    fail("{} --mmproj given for {} model(s): give at most one per model, in the same order", o.mmprojs.size(),
         paths.size());
  if (o.aliases.size() > paths.size())
    fail("{} --alias given for {} model(s): give at most one per model, in the same order", o.aliases.size(), paths.size());

  // SIGINT/SIGTERM are taken by a waiting thread (not a handler), so no
  // global is needed to reach the server; SIGPIPE from a closed client is ignored.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<server::ModelSpec> pinned;
  for (size_t i = 0; i < paths.size(); ++i) {
    server::ModelSpec spec;
    server::ModelLoadOptions& m = spec.load;
    m = registry.engine;
    const ResolvedModel resolved = resolve_model(paths[i], false);  // a store name is served under that name
    m.path = resolved.path;
    if (i < o.aliases.size()) m.id = o.aliases[i];
    else if (m.path != paths[i]) m.id = paths[i];
    else m.id = server::model_id_from_path(m.path);
    m.mmproj = i < o.mmprojs.size() ? o.mmprojs[i] : resolved.mmproj;  // a store model's projector by default
    if (resolved.preset) {  // a preset's template, prompt, sampling and engine settings, where the command line set none
      const store::Preset& p = *resolved.preset;
      m.preset = p;
      m.chat_template = p.template_text;
      if (p.ctx && o.engine.n_ctx == 0) m.n_ctx = *p.ctx;
      if (p.ctk && !o.ctk_given) m.type_k = cache_type(*p.ctk, "K");
      if (p.ctv && !o.ctv_given) m.type_v = cache_type(*p.ctv, "V");
      m.flash_attn = runtime::use_flash_attention(o.engine.flash_attn, m.type_v);
    }
    spec.name = m.id;
    spec.keep_alive = std::nullopt;  // models named on the command line stay loaded unless a request says otherwise
    std::error_code ec;
    spec.file_bytes = resolved.entry ? resolved.entry->total_size() : uint64_t(std::filesystem::file_size(m.path, ec));
    if (resolved.entry && !resolved.entry->files.empty()) spec.digest = resolved.entry->files.front().sha256;
    pinned.push_back(std::move(spec));
  }
  const std::vector<server::ModelSpec> pinned_specs = pinned;
  auto models = std::make_unique<server::ModelRegistry>(std::move(pinned), registry);
  models->load_pinned();
  for (const server::ModelSpec& spec : pinned_specs) {
    const auto loaded = models->loaded_model(spec.name);
    if (!loaded) continue;
    runtime::BatchEngineConfig batch;
    batch.n_slots = o.parallel;
    batch.n_ctx_per_slot = loaded->n_ctx();
    batch.n_batch = spec.load.n_batch;
    batch.type_k = spec.load.type_k;
    batch.type_v = spec.load.type_v;
    const runtime::KvMemory per_conversation = runtime::BatchEngine::slot_kv_memory(loaded->model(), batch);
    fmt::print(stderr,
               "model '{}': {} ({}), context {} per conversation, {} in parallel, KV cache {:.1f} MiB; "
               "a conversation's context costs {}\n",
               loaded->id(), spec.load.path, loaded->architecture(), loaded->n_ctx(), o.parallel,
               double(loaded->engine().kv_bytes()) / (1 << 20), runtime::describe(per_conversation));
    for (size_t start = 0; start < loaded->placement().size();) {  // a line per range of layers, as `run` prints
      const size_t end = std::min(loaded->placement().find('\n', start), loaded->placement().size());
      fmt::print(stderr, "model '{}': {}\n", loaded->id(), loaded->placement().substr(start, end - start));
      start = end + 1;
    }
    if (const vision::VisionModel* v = loaded->vision())
      fmt::print(stderr, "model '{}': images through {} ({} projector, {} tokens an image, encoded on the CPU)\n",
                 loaded->id(), spec.load.mmproj, v->hparams().projector, v->tokens_per_image());
  }
  if (registry.store)
    fmt::print(stderr, "serving the store {} ({} entries; models load on first use), memory budget {:.1f} MiB\n",
               registry.store->home().string(), registry.store->list().size(), double(registry.max_memory) / (1 << 20));
  const server::ServeDevices& devices = *registry.engine.devices;
  for (size_t i = 0; i < devices.devices.size(); ++i) {
    const backend::DeviceInfo& d = devices.devices[i]->info();
    fmt::print(stderr, "device {} ({}, {}): budget {:.1f} MiB for the models' layers on it\n", d.id, d.name,
               backend::device_kind_name(d.kind), double(devices.budgets[i]) / (1 << 20));
  }

  server::ServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.api_key = o.api_key.value_or("");
  options.cors_origin = o.cors;
  options.allowed_hosts = o.allowed_hosts;
  options.max_body_bytes = o.max_body_mb << 20;
  // Threads grow with connections up to this; more connections wait.
  options.http_threads = std::max(256, o.parallel + int(o.queue) + 8);
  options.log_requests = !o.quiet;
  server::Server server(std::move(models), options);

  std::thread signal_waiter([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
  });
  try {
    server.run([&](int port) {
      fmt::print(stderr, "hearth serve: listening on http://{}:{} (OpenAI API at /v1, Ollama API at /api)\n", o.host, port);
    });
  } catch (...) {
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();
    throw;
  }
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes the waiter if the server stopped by itself
  signal_waiter.join();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve models over OpenAI's and Ollama's HTTP APIs (default model: the bundled stories260K)");
  cmd->add_option("models", o->models, "GGUF model files or store names (a file is named by its name without .gguf)");
  cmd->add_option("--alias", o->aliases, "Name a model instead of by its file name (once per model, in order)")->allow_extra_args(false);
  cmd->add_option("--mmproj", o->mmprojs, "Multimodal projector GGUF: the model takes images (once per model, in order)")->allow_extra_args(false);
  cmd->add_flag("--allow-file-urls", o->allow_file_urls, "Let image_url name a local file (file://...); off by default");
  cmd->add_option("--host", o->host, "Address to listen on (loopback by default; 0.0.0.0 exposes the server)")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0: any free port, printed on start)")->capture_default_str();
  cmd->add_option("--parallel", o->parallel, "Conversations evaluated together per model")->capture_default_str();
  cmd->add_option("--queue", o->queue, "Requests that may wait for a slot before the server answers 503")->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "Require 'Authorization: Bearer KEY' on every API request");
  cmd->add_option("--allowed-host", o->allowed_hosts,
                  "Serve requests whose Host is this name too (besides localhost and the bound address; * for any)")
      ->allow_extra_args(false);
  cmd->add_option("--cors", o->cors, "Allow browser requests from this origin (e.g. http://localhost:3000 or *)");
  cmd->add_option("--cache-mb", o->cache_mb,
                  "KV memory in MiB kept for the prefix cache beyond the conversations' contexts (ctx x parallel)")
      ->capture_default_str();
  cmd->add_option("--max-body-mb", o->max_body_mb, "Largest request body in MiB (larger: 413)")->capture_default_str();
  cmd->add_option("--max-memory", o->max_memory,
                  "Memory the loaded models may plan together (16G, 512M; default: this machine's RAM less a tenth, at "
                  "least 1 GiB); the least recently used idle model is unloaded to make room");
  cmd->add_option("--max-device-memory", o->max_device_memory,
                  "Device memory the loaded models' layers may plan together on each of --devices (one size, or one "
                  "per device: 22G,22G; default: each device's memory less a tenth)");
  cmd->add_option("--keep-alive", o->keep_alive,
                  "How long a store model stays loaded after its last request (5m, 1h, 0, -1 = forever)")
      ->capture_default_str();
  cmd->add_flag("--store", o->serve_store, "Serve the model store too (always, when no model is named)");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not log requests (method, path and status; prompts are never logged)");
  add_engine_options(cmd, o->engine);
  cmd->callback([o, cmd] {
    o->ctk_given = cmd->count("--ctk") > 0;
    o->ctv_given = cmd->count("--ctv") > 0;
    serve(*o);
  });
}

}  // namespace hearth::cli

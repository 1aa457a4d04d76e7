// `hearth plan MODEL [--ctx N] [--ctk T] [--ctv T] [--parallel N] [--memory 16G | --devices 24G,24G | --devices vulkan0] [--fit]`:
// the exact bytes a model takes (weights, KV cache per layer, compute
// buffers, overhead) and whether it fits. A remote reference reads only the
// GGUF header (HTTP Range); a repository without a quant tag gets one row per
// quant file.
#include <cctype>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/cpu/kernels.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "plan/measure.h"
#include "plan/plan.h"
#include "store/remote_header.h"
#if HEARTH_VULKAN
#include "backend/vulkan/instance.h"
#endif

namespace hearth::cli {
namespace {
namespace fs = std::filesystem;

struct PlanCli {
  std::string model;
  int64_t n_ctx = 0;
  std::string ctk = "f16", ctv = "f16";
  int parallel = 1;
  std::string engine = "serve";
  int64_t ubatch = 512;
  int threads = 0;
  std::string memory;
  std::string devices;
  bool fit = false;
  bool json = false;
  bool measure = false;
};

DType cache_type(const std::string& name, const char* which) {
  const auto t = dtype_from_name(name);
  if (!t) fail("unknown {} cache type '{}' (use f32, f16, bf16, q8_0 or q4_0)", which, name);
  return *t;
}

uint64_t machine_memory() { return uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)); }

std::vector<uint64_t> parse_devices(const std::string& text) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(plan::parse_memory_size(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) fail("--devices needs memory sizes, e.g. --devices 24G,24G");
  return out;
}

// `--devices vulkan0[,vulkan1]`: the named devices themselves (their memory,
// and how their backend lays out buffers); empty for sizes (`24G,24G`).
struct NamedDevice {
  std::string id, name;
  uint64_t memory = 0, alignment = 0, staging = 0;
};
std::vector<NamedDevice> named_devices(const std::string& spec) {
  if (spec.empty() || !std::isalpha(static_cast<unsigned char>(spec.front()))) return {};
#if HEARTH_VULKAN
  std::string why;
  const auto available = vulkan::list_devices(&why);
  if (available.empty()) fail("--devices {}: no Vulkan device ({})", spec, why);
  const backend::DeviceSelection selection = backend::select_devices(available, spec);
  if (selection.devices.empty()) fail("--devices {}: {}", spec, selection.why);
  std::vector<NamedDevice> out;
  for (const auto& d : selection.devices) {
    const auto backend = vulkan::make_backend(d.id);  // its buffer alignment is known once it is made
    out.push_back({d.id, d.name, d.memory_bytes, backend->info().buffer_alignment, backend->info().staging_bytes});
  }
  return out;
#else
  fail("--devices {}: this hearth was built without Vulkan; give sizes instead (e.g. --devices 24G,24G)", spec);
#endif
}

plan::PlanOptions plan_options(const PlanCli& o) {
  plan::PlanOptions p;
  p.n_ctx = o.n_ctx;
  p.n_parallel = o.parallel;
  p.paged = o.engine == "serve";
  p.n_batch = o.ubatch;
  p.type_k = cache_type(o.ctk, "K");
  p.type_v = cache_type(o.ctv, "V");
  p.n_threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  p.packed_types = plan::cpu_packed_types(cpu::select_kernels(cpu::detect_cpu_features()));
  return p;
}

nlohmann::json plan_json(const plan::Plan& p, uint64_t budget, const std::vector<plan::DeviceShare>& devices) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& L : p.layers)
    layers.push_back({{"layer", L.layer}, {"window", L.window}, {"kv_rows", L.kv_rows}, {"kv", L.kv}, {"weights", L.weights}});
  nlohmann::json j = {{"arch", p.arch}, {"name", p.name}, {"file_type", p.file_type}, {"n_ctx", p.n_ctx},
                      {"n_parallel", p.n_parallel}, {"engine", p.paged ? "serve" : "run"},
                      {"type_k", dtype_name(p.type_k)}, {"type_v", dtype_name(p.type_v)}, {"weights", p.weights},
                      {"kv", p.kv}, {"compute", p.compute}, {"overhead", p.overhead}, {"total", p.total()},
                      {"n_sliding_layers", p.n_sliding}, {"layers", layers}};
  if (devices.empty()) {
    j["memory"] = budget;
    j["fits"] = p.total() <= budget;
  } else {
    nlohmann::json ds = nlohmann::json::array();
    bool all = true;
    for (const auto& d : devices) {
      ds.push_back({{"capacity", d.capacity}, {"first_layer", d.first_layer}, {"n_layers", d.n_layers},
                    {"weights", d.weights}, {"kv", d.kv}, {"compute", d.compute}, {"total", d.total()}, {"fits", d.fits()}});
      all = all && d.fits();
    }
    j["devices"] = ds;
    j["fits"] = all;
  }
  return j;
}

std::string row(const char* what, uint64_t bytes, const std::string& note = "") {
  return fmt::format("  {:<10} {:>12}  {:>14} B  {}\n", what, human_size(bytes), bytes, note);
}

void print_plan(const plan::Plan& p, uint64_t budget, const std::vector<plan::DeviceShare>& devices) {
  fmt::print("{} ({}{}), {} layers, training context {}\n", p.name.empty() ? "model" : p.name, p.arch,
             p.file_type.empty() ? "" : ", " + p.file_type, p.n_layer, p.n_ctx_train);
  fmt::print("context {} x {} sequence(s), K {}, V {}, {}\n", p.n_ctx, p.n_parallel, dtype_name(p.type_k),
             dtype_name(p.type_v),
             p.paged ? "serve engine (KV pool in blocks of 16 rows)" : "run engine (one sequence)");
  std::string kv_note;
  if (p.n_sliding > 0)
    kv_note = fmt::format("{} of {} layers slide (window {}), holding only their window", p.n_sliding, p.n_layer,
                          p.layers.empty() ? 0 : std::max_element(p.layers.begin(), p.layers.end(), [](auto& a, auto& b) {
                            return a.window < b.window;
                          })->window);
  fmt::print("{}", row("weights", p.weights));
  fmt::print("{}", row("kv cache", p.kv, kv_note));
  fmt::print("{}", row("compute", p.compute));
  fmt::print("{}", row("overhead", p.overhead));
  fmt::print("{}", row("total", p.total()));
  if (devices.empty()) {
    if (p.total() <= budget)
      fmt::print("fits in {} ({} to spare)\n", human_size(budget), human_size(budget - p.total()));
    else
      fmt::print("does NOT fit in {} (short by {})\n", human_size(budget), human_size(p.total() - budget));
    return;
  }
  fmt::print("\n  {:<8} {:>8} {:>8} {:>12} {:>12} {:>12} {:>12} {:>10}  {}\n", "device", "layers", "", "weights", "kv",
             "compute", "total", "memory", "fits");
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    fmt::print("  {:<8} {:>8} {:>8} {:>12} {:>12} {:>12} {:>12} {:>10}  {}\n", i,
               fmt::format("{}-{}", d.first_layer, d.first_layer + d.n_layers - 1), d.n_layers, human_size(d.weights),
               human_size(d.kv), human_size(d.compute), human_size(d.total()), human_size(d.capacity),
               d.fits() ? "yes" : "NO");
  }
}

// The plan of one model file, and with --fit the largest context that fits.
void plan_one(const std::string& path, const PlanCli& o) {
  auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
  const auto model = model::Model::load(file);
  plan::PlanOptions options = plan_options(o);
  const std::vector<NamedDevice> named = named_devices(o.devices);
  std::vector<uint64_t> devices;
  uint64_t budget = o.memory.empty() ? machine_memory() : plan::parse_memory_size(o.memory);
  if (!named.empty()) {
    // What the device's backend allocates, against its own memory.
    options.device = true;
    options.device_alignment = named.front().alignment;
    options.device_staging = named.front().staging;
    if (named.size() == 1)
      budget = named.front().memory;
    else
      for (const auto& d : named) devices.push_back(d.memory);
    if (!o.json)
      for (const auto& d : named) fmt::print("device {} ({}), {}\n", d.id, d.name, human_size(d.memory));
  } else if (!o.devices.empty()) {
    devices = parse_devices(o.devices);
  }
  if (o.fit) {
    if (devices.empty()) {
      options.n_ctx = plan::fit_context(*model, options, budget);
      if (options.n_ctx == 0) fail("not even a context of 256 fits in {}", human_size(budget));
    } else {
      // The largest context whose layer split fits every device.
      int64_t lo = 0, hi = std::max<int64_t>(1, model->hparams().n_ctx_train / 256);
      while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        options.n_ctx = mid * 256;
        bool ok = true;
        for (const auto& d : plan::split_by_layers(plan::make_plan(*model, options), devices)) ok = ok && d.fits();
        if (ok) lo = mid; else hi = mid - 1;
      }
      if (lo == 0) fail("not even a context of 256 fits on these devices");
      options.n_ctx = lo * 256;
    }
    if (!o.json) fmt::print("largest context that fits: {}\n\n", options.n_ctx);
  }
  const plan::Plan p = plan::make_plan(*model, options);
  const auto shares = devices.empty() ? std::vector<plan::DeviceShare>{} : plan::split_by_layers(p, devices);
  nlohmann::json j = plan_json(p, budget, shares);
  if (!o.json) print_plan(p, budget, shares);
  if (o.measure) {
    // The plan's engine built and its context filled, in a child process.
    if (!o.json) fmt::print("measuring: loading the model and filling {} x {} tokens...\n", p.n_parallel, p.n_ctx);
    options.n_ctx = p.n_ctx;
    int64_t measured = 0;
#if HEARTH_VULKAN
    if (!named.empty()) {
      if (named.size() > 1) fail("--measure with --devices measures one device; name one");
      measured = plan::measure_device_allocation(path, options, [&] { return vulkan::make_backend(named.front().id); });
      j["measured_device"] = named.front().id;
    } else
#endif
      measured = plan::measure_peak_rss_growth(path, options);
    if (measured <= 0) fail("the measurement failed (the reason is above)");
    const double error = 100.0 * (double(p.total()) - double(measured)) / double(measured);
    j["measured"] = measured;
    j["error_percent"] = error;
    if (!o.json)
      fmt::print("  {:<10} {:>12}  {:>14} B  {} (the plan is {:+.2f}% off)\n", "measured",
                 human_size(uint64_t(measured)), measured,
                 named.empty() ? "peak RSS growth" : "peak device allocation", error);
  }
  if (o.json) fmt::print("{}\n", j.dump(2));
}

// A remote reference: headers only, one row per quant file when no tag is given.
void plan_remote(const store::HubRef& ref, const PlanCli& o) {
  const store::HubConfig config = hub_config();
  const auto files = store::list_repo(ref, config);
  std::vector<std::vector<store::RepoFile>> models;
  if (ref.tag.empty() && ref.file.empty())
    models = store::gguf_models(files);
  else
    models.push_back(store::choose_model(ref, files));
  if (models.empty()) fail("{} has no GGUF model files", ref.display());
  const fs::path tmp = fs::temp_directory_path() / fmt::format("hearth-plan-{}", getpid());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmp};
  auto sparse_copy = [&](const std::vector<store::RepoFile>& parts) {
    for (const auto& f : parts)
      store::fetch_gguf_header(store::file_url(ref, f.path, config), store::auth_headers(ref, config), f.size,
                               (tmp / fs::path(f.path).filename()).string());
    return (tmp / fs::path(parts.front().path).filename()).string();
  };
  if (models.size() == 1) {
    plan_one(sparse_copy(models.front()), o);
    return;
  }
  plan::PlanOptions options = plan_options(o);
  uint64_t budget = o.memory.empty() ? machine_memory() : plan::parse_memory_size(o.memory);
  if (const auto named = named_devices(o.devices); named.size() == 1) {  // one device's allocations, its memory
    options.device = true;
    options.device_alignment = named.front().alignment;
    options.device_staging = named.front().staging;
    budget = named.front().memory;
  }
  nlohmann::json rows = nlohmann::json::array();
  if (!o.json)
    fmt::print("{} at context {} x {}, K {}, V {}; memory {}\n{:<10} {:>12} {:>12} {:>12} {:>12}  {}  {}\n",
               ref.display(), o.n_ctx > 0 ? fmt::format("{}", o.n_ctx) : "default", options.n_parallel, o.ctk, o.ctv,
               human_size(budget), "QUANT", "FILE", "KV", "COMPUTE", "TOTAL", "FITS", "FILE NAME");
  for (const auto& parts : models) {
    uint64_t size = 0;
    for (const auto& f : parts) size += f.size;
    const std::string tag = store::quant_tag_of(parts.front().path);
    plan::Plan p;
    try {
      const std::string path = sparse_copy(parts);
      auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
      const auto model = model::Model::load(file);
      p = plan::make_plan(*model, options);
    } catch (const Error& e) {  // one file that cannot be planned does not hide the others
      if (o.json)
        rows.push_back({{"quant", tag}, {"file", parts.front().path}, {"size", size}, {"error", e.what()}});
      else
        fmt::print("{:<10} {:>12}  cannot plan: {}  {}\n", tag.empty() ? "-" : tag, human_size(size), e.what(),
                   parts.front().path);
      fs::remove_all(tmp);
      continue;
    }
    if (o.json) {
      rows.push_back({{"quant", tag}, {"file", parts.front().path}, {"size", size}, {"n_ctx", p.n_ctx}, {"weights", p.weights},
                      {"kv", p.kv}, {"compute", p.compute}, {"overhead", p.overhead}, {"total", p.total()},
                      {"fits", p.total() <= budget}});
    } else {
      fmt::print("{:<10} {:>12} {:>12} {:>12} {:>12}  {:<4}  {}\n", tag.empty() ? "-" : tag, human_size(size),
                 human_size(p.kv), human_size(p.compute + p.overhead), human_size(p.total()),
                 p.total() <= budget ? "yes" : "no", parts.front().path);
    }
    fs::remove_all(tmp);
  }
  if (o.json) fmt::print("{}\n", rows.dump(2));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto o = std::make_shared<PlanCli>();
  CLI::App* cmd = app.add_subcommand("plan", "The exact memory a model needs at a context and K/V types, and whether it fits");
  cmd->add_option("model", o->model, "GGUF file, store name or pull reference (remote: only the header is read)")->required();
  cmd->add_option("-c,--ctx", o->n_ctx, "Context per sequence (default: the model's, at most 4096)");
  cmd->add_option("--ctk", o->ctk, "K cache type: f32, f16, bf16, q8_0, q4_0")->capture_default_str();
  cmd->add_option("--ctv", o->ctv, "V cache type: f32, f16, bf16, q8_0, q4_0")->capture_default_str();
  cmd->add_option("--parallel", o->parallel, "Sequences served together (serve --parallel)")->capture_default_str();
  cmd->add_option("--engine", o->engine, "Plan for `serve` (paged KV pool) or `run` (one sequence)")
      ->check(CLI::IsMember({"serve", "run"}))
      ->capture_default_str();
  cmd->add_option("--ubatch", o->ubatch, "Tokens per forward pass")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: all cores)");
  auto* memory = cmd->add_option("--memory", o->memory, "Memory to fit in, e.g. 16G (default: this machine's RAM)");
  cmd->add_option("--devices", o->devices,
                  "Plan for a Vulkan device by name (vulkan0: what its backend allocates, against its memory), or "
                  "split by layers over devices of these sizes, e.g. 24G,24G")
      ->excludes(memory);
  cmd->add_flag("--fit", o->fit, "Find the largest context that fits");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_flag("--measure", o->measure,
                "Also load the model, fill the context and print the peak RSS growth it really took (a local file; "
                "with --devices vulkan0 the device memory its backend allocated)");
  cmd->callback([o, cmd] {
    std::error_code ec;
    if (!fs::is_regular_file(o->model, ec) && !open_store().find(o->model)) {
      if (const auto ref = store::parse_ref(o->model)) {
        plan_remote(*ref, *o);
        return;
      }
    }
    const ResolvedModel resolved = resolve_model(o->model, false);
    if (resolved.preset) {
      if (resolved.preset->ctx && cmd->get_option("--ctx")->count() == 0) o->n_ctx = *resolved.preset->ctx;
      if (resolved.preset->ctk && cmd->get_option("--ctk")->count() == 0) o->ctk = *resolved.preset->ctk;
      if (resolved.preset->ctv && cmd->get_option("--ctv")->count() == 0) o->ctv = *resolved.preset->ctv;
    }
    plan_one(resolved.path, *o);
  });
}

}  // namespace hearth::cli

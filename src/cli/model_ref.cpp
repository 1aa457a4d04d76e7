#include "cli/model_ref.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.h"

namespace hearth::cli {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

std::string human_size(uint64_t bytes) {
  if (bytes >= (uint64_t(1) << 30)) return fmt::format("{:.2f} GiB", double(bytes) / double(uint64_t(1) << 30));
  if (bytes >= (uint64_t(1) << 20)) return fmt::format("{:.1f} MiB", double(bytes) / double(1 << 20));
  return fmt::format("{:.1f} KiB", double(bytes) / 1024.0);
}

store::Store open_store() {
  std::string home = env("HEARTH_HOME");
  if (home.empty()) {
    const std::string xdg = env("XDG_DATA_HOME");
    if (!xdg.empty()) {
      home = xdg + "/hearth";
    } else {
      const std::string user_home = env("HOME");
      if (user_home.empty()) fail("neither HEARTH_HOME nor HOME is set: set HEARTH_HOME to the model store's folder");
      home = user_home + "/.local/share/hearth";
    }
  }
  return store::Store(home);
}

store::HubConfig hub_config() {
  store::HubConfig c;
  if (const std::string e = env("HF_ENDPOINT"); !e.empty()) c.hf_endpoint = e;
  c.hf_token = env("HF_TOKEN");
  if (c.hf_token.empty()) c.hf_token = env("HUGGING_FACE_HUB_TOKEN");
  if (const std::string e = env("MODELSCOPE_ENDPOINT"); !e.empty()) c.ms_endpoint = e;
  return c;
}

store::Manifest pull_with_progress(const store::HubRef& ref, const std::string& name) {
  const bool tty = isatty(fileno(stderr)) != 0;
  using clock = std::chrono::steady_clock;
  auto started = clock::now();
  auto last_draw = clock::time_point{};
  std::string label;
  store::PullEvents events;
  events.on_file = [&](const store::RepoFile& f, int index, int count) {
    if (tty && !label.empty()) fmt::print(stderr, "\n");
    label = count > 1 ? fmt::format("{} ({}/{})", f.path, index + 1, count) : f.path;
    fmt::print(stderr, "pulling {} ({}){}", label, human_size(f.size), tty ? "\n" : "\n");
    started = clock::now();
  };
  events.on_progress = [&](uint64_t done, uint64_t total) {
    if (!tty) return;
    const auto now = clock::now();
    if (now - last_draw < std::chrono::milliseconds(200) && done != total) return;
    last_draw = now;
    const double seconds = std::chrono::duration<double>(now - started).count();
    const double rate = seconds > 0 ? double(done) / seconds : 0.0;
    const int width = 30;
    const int filled = total > 0 ? int(double(done) / double(total) * width) : 0;
    const std::string eta = rate > 0 && total > done ? fmt::format("{:.0f}s", double(total - done) / rate) : "-";
    fmt::print(stderr, "\r[{}{}] {:>3}% {} / {}  {}/s  ETA {}   ", std::string(size_t(filled), '#'),
               std::string(size_t(width - filled), ' '), total > 0 ? int(100.0 * double(done) / double(total)) : 0,
               human_size(done), human_size(total), human_size(uint64_t(rate)), eta);
  };
  store::Manifest m = store::pull(ref, hub_config(), open_store(), events, name);
  if (tty) fmt::print(stderr, "\n");
  fmt::print(stderr, "pulled {} ({})\n", m.name, human_size(m.total_size()));
  return m;
}

ResolvedModel resolve_model(const std::string& arg, bool pull_if_missing) {  // NOLINT(misc-no-recursion)
  ResolvedModel out;
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    out.path = arg;
    return out;
  }
  const store::Store st = open_store();
  std::optional<store::Manifest> entry = st.find(arg);
  if (!entry) {
    if (const auto ref = store::parse_ref(arg)) {
      if (!pull_if_missing)
        fail("'{}' is not in the store; pull it first: hearth pull {}", arg, arg);
      entry = pull_with_progress(*ref);
    }
  }
  if (!entry) {
    if (arg.size() > 5 && arg.substr(arg.size() - 5) == ".gguf") fail("cannot open '{}': no such file", arg);
    fail("'{}' is neither a file nor a model in the store ({}: {})", arg, st.home().string(), st.names());
  }
  if (entry->kind == "preset") {
    if (entry->preset.model == arg) fail("preset '{}' is based on itself", arg);
    ResolvedModel base = resolve_model(entry->preset.model, pull_if_missing);
    base.preset = entry->preset;
    base.entry = std::move(entry);
    return base;
  }
  const store::Manifest& model = *entry;
  for (const store::StoredFile& f : model.files)
    if (!fs::exists(f.path, ec))
      fail("store entry '{}': its file '{}' is gone; pull it again (hearth rm {} && hearth pull {})", model.name,
           f.path, model.name, model.source);
  out.path = model.files.front().path;
  if (model.mmproj) {
    if (!fs::exists(model.mmproj->path, ec))
      fail("store entry '{}': its projector '{}' is gone; pull it again (hearth rm {} && hearth pull {})", model.name,
           model.mmproj->path, model.name, model.source);
    out.mmproj = model.mmproj->path;
  }
  out.entry = std::move(entry);
  return out;
}

std::string resolve_model_path(const std::string& arg) { return resolve_model(arg, false).path; }

}  // namespace hearth::cli

namespace hearth::cli {

std::string show_store_entry(const std::string& arg, bool json) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) return arg;
  const ResolvedModel r = resolve_model(arg, false);
  const store::Manifest& m = *r.entry;
  if (!json) {
    fmt::print("store entry    {} ({})\n", m.name, m.kind);
    if (m.kind == "preset") {
      fmt::print("preset file    {}\ncreated        {}\n\n{}\n", m.source, m.created, store::preset_to_toml(m.preset));
      fmt::print("base model     {}\n", r.path);
    } else {
      fmt::print("source         {}\ncreated        {}\n", m.source, m.created);
      for (const auto& f : m.files) fmt::print("file           {} ({} bytes, sha256 {})\n", f.path, f.size, f.sha256.empty() ? "-" : f.sha256);
      if (m.mmproj)
        fmt::print("mmproj         {} ({} bytes, sha256 {})\n", m.mmproj->path, m.mmproj->size,
                   m.mmproj->sha256.empty() ? "-" : m.mmproj->sha256);
    }
    fmt::print("\n");
  }
  return r.path;
}

}  // namespace hearth::cli

// Ollama's model management: /api/tags (what can be served: the command
// line's models and the store's), /api/ps (what is loaded, its planned size
// and when it leaves), /api/show (from the GGUF header when not loaded),
// /api/pull (the store's hub pull, progress streamed as NDJSON), /api/delete
// and /api/copy on the store.
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>

#include <httplib.h>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "core/error.h"
#include "core/file_type.h"
#include "gguf/gguf.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/ollama_handler.h"
#include "server/request_guard.h"
#include "store/hub.h"

namespace hearth::server {
namespace {

using json = nlohmann::json;

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string field(const json& body, std::initializer_list<const char*> names, const char* what) {
  for (const char* name : names)
    if (body.contains(name) && body[name].is_string() && !body[name].get<std::string>().empty())
      return body[name].get<std::string>();
  bad_request(*names.begin(), "'{}' is required ({})", *names.begin(), what);
}

// What a GGUF header says about a model, cached by path and size.
struct HeaderFacts {
  std::string arch, file_type;
  int64_t n_ctx_train = 0, n_embd = 0, n_layer = 0, file_type_id = 0;
};

class HeaderCache {
 public:
  HeaderFacts get(const std::string& path) {
    std::error_code ec;
    const std::string key = path + "|" + std::to_string(std::filesystem::file_size(path, ec));
    std::lock_guard lock(mutex_);
    if (const auto it = facts_.find(key); it != facts_.end()) return it->second;
    HeaderFacts f;
    try {
      const gguf::File file = gguf::File::open(path);
      const auto& md = file.metadata();
      f.arch = md.get_string_or("general.architecture", "");
      f.file_type_id = md.get_int_or("general.file_type", 0);
      if (const gguf::Value* t = md.find("general.file_type"); t && t->is_integer())
        f.file_type = file_type_name(t->as_int("general.file_type"));
      f.n_ctx_train = md.get_int_or(f.arch + ".context_length", 0);
      f.n_embd = md.get_int_or(f.arch + ".embedding_length", 0);
      f.n_layer = md.get_int_or(f.arch + ".block_count", 0);
    } catch (const std::exception&) {
      // An unreadable file lists without details; loading it says why.
    }
    facts_[key] = f;
    return f;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, HeaderFacts> facts_;
};

json details(const HeaderFacts& f, const ModelSpec& spec) {
  return {{"parent_model", spec.is_preset && spec.load.preset ? spec.load.preset->model : ""},
          {"format", "gguf"},
          {"family", f.arch},
          {"families", json::array({f.arch})},
          {"parameter_size", ""},
          {"quantization_level", f.file_type}};
}

json tag_entry(const ModelSpec& spec, const HeaderFacts& f) {
  std::error_code ec;
  const uint64_t size = spec.file_bytes > 0 ? spec.file_bytes : uint64_t(std::filesystem::file_size(spec.load.path, ec));
  return {{"name", spec.name},
          {"model", spec.name},
          {"modified_at", iso_time(std::chrono::system_clock::from_time_t(spec_created(spec)))},
          {"size", size},
          {"digest", spec.digest},
          {"details", details(f, spec)}};
}

ModelSpec spec_or_404(Server& server, const std::string& name) {
  auto spec = server.registry().find(name);
  if (!spec) throw ApiError(404, fmt::format("model '{}' not found", name), "invalid_request_error", "model", "model_not_found");
  return *spec;
}

void show(Server& server, HeaderCache& headers, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const ModelSpec spec = spec_or_404(server, field(body, {"model", "name"}, "the model to describe"));
  const HeaderFacts f = headers.get(spec.load.path);
  json capabilities = json::array({"completion"});
  std::string template_source;
  bool vision = !spec.load.mmproj.empty();
  if (const auto m = server.registry().loaded_model(spec.name)) {
    template_source = m->chat_template().source();
    if (m->chat_template().capabilities().tools) capabilities.push_back("tools");
    if (m->chat_template().capabilities().reasoning) capabilities.push_back("thinking");
    vision = m->vision() != nullptr;
  } else {
    try {  // the header alone: the model is not loaded for this
      const gguf::File file = gguf::File::open(spec.load.path);
      std::vector<std::string> warnings;
      const chat::ChatTemplate t = spec.load.chat_template.empty()
                                       ? chat::select_chat_template(&file.metadata(), chat::TemplateChoice{}, warnings)
                                       : chat::ChatTemplate(spec.load.chat_template, "preset");
      template_source = t.source();
      if (t.capabilities().tools) capabilities.push_back("tools");
      if (t.capabilities().reasoning) capabilities.push_back("thinking");
    } catch (const std::exception&) {
    }
  }
  if (vision) capabilities.push_back("vision");
  json info = {{"general.architecture", f.arch},
               {f.arch + ".context_length", f.n_ctx_train},
               {f.arch + ".embedding_length", f.n_embd},
               {f.arch + ".block_count", f.n_layer},
               {"general.file_type", f.file_type_id}};
  std::string parameters, system;
  if (spec.load.preset) {
    const store::Preset& p = *spec.load.preset;
    system = p.system;
    const auto add = [&](const char* name, const auto& value) {
      if (value) parameters += fmt::format("{:<20}{}\n", name, *value);
    };
    add("temperature", p.temperature);
    add("top_k", p.top_k);
    add("top_p", p.top_p);
    add("min_p", p.min_p);
    add("repeat_penalty", p.repeat_penalty);
    add("repeat_last_n", p.repeat_last_n);
    add("seed", p.seed);
    add("num_predict", p.num_predict);
    add("num_ctx", p.ctx);
  }
  json out = {{"modelfile", ""},       {"parameters", parameters}, {"template", template_source},
              {"details", details(f, spec)}, {"model_info", info},  {"capabilities", capabilities},
              {"modified_at", iso_time(std::chrono::system_clock::from_time_t(spec_created(spec)))}};
  if (!system.empty()) out["system"] = system;
  res.set_content(dump_json(out), "application/json");
}

const store::Store& store_or_400(Server& server) {
  const store::Store* st = server.registry().store();
  if (!st)
    bad_request("model",
                "this server serves only the models it was started with; start `hearth serve` with no model (or with "
                "--store) to manage the store");
  return *st;
}

bool write_line(httplib::DataSink& sink, const json& j) {
  const std::string line = dump_json(j) + "\n";
  return sink.write(line.data(), line.size());
}

void pull(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  std::string name = field(body, {"model", "name"}, "a pull reference such as hf.co/OWNER/REPO:QUANT");
  if (name.ends_with(":latest")) name.resize(name.size() - 7);
  const store::Store& st = store_or_400(server);
  const auto ref = store::parse_ref(name);
  if (!ref)
    bad_request("model", "'{}' is not a pull reference: use hf.co/OWNER/REPO:QUANT, hf.co/OWNER/REPO/FILE.gguf or "
                         "ms:OWNER/REPO:QUANT", name);
  const store::HubConfig hub = server.registry().options().hub;
  const bool stream = !body.contains("stream") || !body["stream"].is_boolean() || body["stream"].get<bool>();
  if (!stream) {
    try {
      store::pull(*ref, hub, st, store::PullEvents{});
    } catch (const Error& e) {
      throw ApiError(400, fmt::format("pull {}: {}", name, e.what()), "invalid_request_error", "model");
    }
    res.set_content(dump_json(json{{"status", "success"}}), "application/json");
    return;
  }
  const store::Store store_copy = st;
  res.set_chunked_content_provider("application/x-ndjson", [ref = *ref, hub, store_copy, name](size_t, httplib::DataSink& sink) {
    write_line(sink, json{{"status", "pulling manifest"}});
    std::string digest;
    uint64_t total = 0;
    auto last = std::chrono::steady_clock::time_point{};
    store::PullEvents events;
    events.on_file = [&](const store::RepoFile& f, int, int) {
      digest = f.sha256.empty() ? std::string() : "sha256:" + f.sha256;
      total = f.size;
      last = std::chrono::steady_clock::now();
      write_line(sink, json{{"status", "pulling " + (f.sha256.empty() ? f.path : f.sha256.substr(0, 12))},
                            {"digest", digest}, {"total", total}, {"completed", 0}});
    };
    events.on_progress = [&](uint64_t done, uint64_t size) {
      const auto now = std::chrono::steady_clock::now();
      if (done != size && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      // The digest's short form, as Ollama prints it; a client that left
      // is not written to (the pull still completes into the store).
      write_line(sink, json{{"status", "pulling " + (digest.size() > 7 ? digest.substr(7, 12) : std::string("file"))},
                            {"digest", digest}, {"total", size > 0 ? size : total}, {"completed", done}});
    };
    try {
      store::pull(ref, hub, store_copy, events);
      write_line(sink, json{{"status", "verifying sha256 digest"}});
      write_line(sink, json{{"status", "writing manifest"}});
      write_line(sink, json{{"status", "success"}});
    } catch (const std::exception& e) {
      write_line(sink, json{{"error", fmt::format("pull {}: {}", name, e.what())}});
    }
    sink.done();
    return true;
  });
}

void remove(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const std::string name = field(body, {"model", "name"}, "the model to delete");
  const store::Store& st = store_or_400(server);
  auto entry = st.find(name);
  if (!entry && name.ends_with(":latest")) entry = st.find(name.substr(0, name.size() - 7));
  if (!entry) throw ApiError(404, fmt::format("model '{}' not found", name), "invalid_request_error", "model", "model_not_found");
  server.registry().unload(entry->name);
  st.remove(entry->name);
  res.set_content("{}", "application/json");
}

void copy(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const std::string source = field(body, {"source"}, "the model to copy");
  const std::string destination = field(body, {"destination"}, "the new name");
  const store::Store& st = store_or_400(server);
  auto entry = st.find(source);
  if (!entry && source.ends_with(":latest")) entry = st.find(source.substr(0, source.size() - 7));
  if (!entry) {
    // A command-line model becomes a store entry by reference, as `hearth import` makes one.
    const ModelSpec spec = spec_or_404(server, source);
    entry = store::Manifest{};
    entry->source = "import:" + spec.load.path;
    entry->owned = false;
    std::error_code ec;
    entry->files.push_back({std::filesystem::absolute(spec.load.path).string(), "",
                            uint64_t(std::filesystem::file_size(spec.load.path, ec))});
  }
  if (server.registry().find(destination) && !st.find(destination))
    bad_request("destination", "'{}' names a model served from the command line; choose another name", destination);
  entry->name = destination;
  entry->created = store::utc_now();
  st.save(*entry);  // the files stay shared: removing either name keeps them while the other lists them
  res.set_content("{}", "application/json");
}

}  // namespace

void add_ollama_model_routes(httplib::Server& http, Server& server) {
  auto headers = std::make_shared<HeaderCache>();
  http.Post("/api/show", ollama_handler(server, [headers](Server& s, const httplib::Request& req, httplib::Response& res) {
    show(s, *headers, req, res);
  }));
  http.Get("/api/tags", ollama_handler(server, [headers](Server& s, const httplib::Request&, httplib::Response& res) {
    json models = json::array();
    for (const ModelSpec& spec : s.registry().catalog()) models.push_back(tag_entry(spec, headers->get(spec.load.path)));
    res.set_content(dump_json(json{{"models", models}}), "application/json");
  }));
  http.Get("/api/ps", ollama_handler(server, [headers](Server& s, const httplib::Request&, httplib::Response& res) {
    json models = json::array();
    for (const ModelRegistry::Loaded& l : s.registry().loaded()) {
      json entry = tag_entry(l.spec, headers->get(l.spec.load.path));
      entry["size"] = l.bytes;  // the planned memory, as Ollama reports the loaded size
      entry["size_vram"] = l.device_bytes;  // of which on the GPUs
      entry["context_length"] = l.model->n_ctx();
      // Kept loaded: a date far ahead, as Ollama shows for keep_alive -1.
      entry["expires_at"] = l.expires_at ? iso_time(*l.expires_at) : "2318-11-26T00:00:00Z";
      models.push_back(entry);
    }
    res.set_content(dump_json(json{{"models", models}}), "application/json");
  }));
  http.Post("/api/pull", ollama_handler(server, pull));
  http.Delete("/api/delete", ollama_handler(server, remove));
  http.Post("/api/copy", ollama_handler(server, copy));
}

}  // namespace hearth::server

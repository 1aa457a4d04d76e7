// The chat page at / (web/, built into the binary): index.html for browsers,
// Ollama's "Ollama is running" for everything else (its clients probe /), the
// bundled script and styles under /chat/, and /chat/models, which adds each
// model's context size to what the page needs for its picker.
#include <httplib.h>

#include "server/embedded_files.h"
#include "server/http_server.h"

namespace hearth::server {
namespace {

const EmbeddedFile* find_file(std::string_view name) {
  for (const auto& f : embedded_files())
    if (f.name == name) return &f;
  return nullptr;
}

void serve_file(httplib::Response& res, std::string_view name, const char* content_type) {
  const EmbeddedFile* f = find_file(name);
  if (!f) {
    res.status = 404;
    return;
  }
  res.set_content(std::string(f->bytes), content_type);
  res.set_header("Cache-Control", "no-cache");
  // The page loads nothing from elsewhere.
  res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
}

}  // namespace

void add_chat_page_routes(httplib::Server& http, Server& server) {
  http.Get("/", [](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Accept").find("text/html") == std::string::npos) {
      res.set_content("Ollama is running", "text/plain");
      return;
    }
    serve_file(res, "index.html", "text/html; charset=utf-8");
  });
  http.Get("/chat/app.js", [](const httplib::Request&, httplib::Response& res) {
    serve_file(res, "app.js", "text/javascript; charset=utf-8");
  });
  http.Get("/chat/app.css", [](const httplib::Request&, httplib::Response& res) {
    serve_file(res, "app.css", "text/css; charset=utf-8");
  });
  http.Get("/chat/models", [&server](const httplib::Request&, httplib::Response& res) {
    nlohmann::json models = nlohmann::json::array();
    for (const ModelSpec& spec : server.registry().catalog()) {
      const auto m = server.registry().loaded_model(spec.name);
      // Not loaded: the context it will get when its --ctx (or preset) sets one.
      const nlohmann::json n_ctx = m ? nlohmann::json(m->n_ctx()) : spec.load.n_ctx > 0 ? nlohmann::json(spec.load.n_ctx) : nlohmann::json();
      models.push_back({{"id", spec.name}, {"n_ctx", n_ctx}});
    }
    res.set_content(dump_json(nlohmann::json{{"models", models}}), "application/json");
  });
}

}  // namespace hearth::server

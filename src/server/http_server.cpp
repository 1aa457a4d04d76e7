#include "server/http_server.h"

#include <chrono>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.h"
#include "server/api_error.h"

namespace hearth::server {

using json = nlohmann::json;

std::string dump_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string dump_json(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void write_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                 const std::string& param, const std::string& code) {
  json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  res.status = status;
  res.set_content(dump_json(json{{"error", error}}), "application/json");
}

json parse_body(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "invalid_request_error");
  return body;
}

Server::Server(std::vector<std::unique_ptr<ServedModel>> models, ServerOptions options)
    : models_(std::move(models)), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  if (models_.empty()) fail("no model to serve");
  httplib::Server& http = *http_;
  const int threads = options_.http_threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  http.set_payload_max_length(options_.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  http.set_tcp_nodelay(true);  // streamed tokens are small writes: no Nagle delay
  http.set_read_timeout(600, 0);
  http.set_write_timeout(600, 0);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!options_.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options_.cors_origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "86400");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    const bool open_path = req.path == "/health" || req.path == "/";
    if (!options_.api_key.empty() && !open_path) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string expected = "Bearer " + options_.api_key;
      if (auth.empty() && req.get_header_value("x-api-key").empty()) {
        write_error(res, 401, "You didn't provide an API key: send the header 'Authorization: Bearer KEY'.",
                    "invalid_request_error", "", "invalid_api_key");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (auth != expected && req.get_header_value("x-api-key") != options_.api_key) {
        write_error(res, 401, "Incorrect API key provided.", "invalid_request_error", "", "invalid_api_key");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Statuses httplib sets itself (413, 404 for unknown paths, 400 for bad
  // requests) get OpenAI's error body too.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 413:
        write_error(res, 413,
                    fmt::format("the request body is too large: at most {} bytes", options_.max_body_bytes),
                    "invalid_request_error", "", "request_too_large");
        break;
      case 404:
        write_error(res, 404, fmt::format("unknown endpoint {} {}", req.method, req.path), "invalid_request_error", "",
                    "unknown_url");
        break;
      default:
        write_error(res, res.status, fmt::format("HTTP error {}", res.status), "invalid_request_error", "", "");
    }
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      write_error(res, e.status, e.what(), e.type, e.param, e.code);
    } catch (const std::exception& e) {
      write_error(res, 500, e.what(), "server_error", "", "");
    } catch (...) {
      write_error(res, 500, "unknown error", "server_error", "", "");
    }
  });
  if (options_.log_requests) {
    // Method, path and status only: prompts never reach the log.
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      fmt::print(stderr, "{} {} -> {}\n", req.method, req.path, res.status);
    });
  }

  // Liveness plus each model's load (no request content).
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    json models = json::array();
    for (const auto& m : models_) {
      const EngineStats s = m->engine().stats();
      models.push_back({{"id", m->id()}, {"slots", m->engine().n_slots()}, {"running", s.running}, {"waiting", s.waiting},
                        {"prompt_tokens_evaluated", s.prompt_tokens_evaluated}, {"prompt_tokens_reused", s.prompt_tokens_reused}});
    }
    res.set_content(dump_json(json{{"status", "ok"}, {"models", models}}), "application/json");
  });
  const auto list_models = [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const auto& m : models_)
      data.push_back({{"id", m->id()}, {"object", "model"}, {"created", int64_t(m->created())}, {"owned_by", "hearth"}});
    res.set_content(dump_json(json{{"object", "list"}, {"data", data}}), "application/json");
  };
  http.Get("/v1/models", list_models);
  http.Get("/models", list_models);
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    ServedModel& m = resolve(req.matches[1]);
    res.set_content(dump_json(json{{"id", m.id()}, {"object", "model"}, {"created", int64_t(m.created())}, {"owned_by", "hearth"}}),
                    "application/json");
  });
  add_openai_routes(http, *this);
  add_ollama_routes(http, *this);
  add_anthropic_routes(http, *this);
  add_responses_routes(http, *this);
  add_metrics_route(http, *this);
  add_embeddings_routes(http, *this);
}

Server::~Server() = default;

ServedModel& Server::resolve(const std::string& name) {
  if (name.empty()) return *models_.front();
  for (const auto& m : models_)
    if (m->id() == name) return *m;
  // Ollama clients add a ":latest" tag.
  if (name.ends_with(":latest"))
    for (const auto& m : models_)
      if (m->id() == name.substr(0, name.size() - 7)) return *m;
  std::string known;
  for (const auto& m : models_) known += (known.empty() ? "" : ", ") + m->id();
  throw ApiError(404, fmt::format("The model '{}' does not exist. This server has: {}", name, known),
                 "invalid_request_error", "model", "model_not_found");
}

void Server::run(const std::function<void(int port)>& on_listening) {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
    if (port < 0) fail("cannot bind to {}: the address is not available", options_.host);
  } else if (!http_->bind_to_port(options_.host, port)) {
    fail("cannot bind to {}:{}: the port is in use or the address is not available (pick another with --port)",
         options_.host, port);
  }
  if (on_listening) on_listening(port);
  http_->listen_after_bind();
}

void Server::stop() { http_->stop(); }

}  // namespace hearth::server

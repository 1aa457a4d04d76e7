#include "server/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>
#include <httplib.h>

#include "core/bounded_json.h"
#include "core/error.h"
#include "server/api_error.h"
#include "server/client_watch.h"
#include "server/connection_loop.h"
#include "server/in_memory_http.h"
#include "server/request_guard.h"

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
  BoundedJsonResult<json> parsed = parse_bounded_json<json>(req.body);
  if (!parsed.ok)
    throw ApiError(400, fmt::format("the request body is not valid JSON: {}", parsed.error), "invalid_request_error", "",
                   parsed.too_deep ? "json_too_deep" : "");
  if (!parsed.value.is_object()) throw ApiError(400, "the request body must be a JSON object", "invalid_request_error");
  return std::move(parsed.value);
}

namespace {

bool is_ollama_path(const std::string& path) { return path.starts_with("/api/") || path == "/api"; }

}  // namespace

void write_error_for(const httplib::Request& req, httplib::Response& res, int status, const std::string& message,
                     const std::string& param, const std::string& code) {
  if (is_ollama_path(req.path)) {
    res.status = status;
    res.set_content(dump_json(json{{"error", message}}), "application/json");
    return;
  }
  write_error(res, status, message, status >= 500 ? "server_error" : "invalid_request_error", param, code);
}

Server::Server(std::vector<std::unique_ptr<ServedModel>> models, ServerOptions options)
    : registry_(std::make_unique<ModelRegistry>(std::vector<ModelSpec>{}, RegistryOptions{})),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()) {
  if (models.empty()) fail("no model to serve");
  for (auto& m : models) registry_->adopt(std::shared_ptr<ServedModel>(std::move(m)));
  add_routes();
}

Server::Server(std::unique_ptr<ModelRegistry> registry, ServerOptions options)
    : registry_(std::move(registry)), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  add_routes();
}

void Server::add_routes() {
  httplib::Server& http = *http_;
  // Connections, timeouts and framing limits are the connection loop's
  // (connection_loop.h); the library parses and routes whole requests.
  http.set_payload_max_length(options_.max_body_bytes);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    GuardConfig guard;
    guard.bound_host = options_.host;
    guard.port = bound_port_;
    guard.allowed_hosts = options_.allowed_hosts;
    guard.cors_origin = options_.cors_origin;
    guard.max_body_bytes = options_.max_body_bytes;
    guard.api_key = options_.api_key;
    if (const GuardVerdict v = check_request(req, guard); v.refused()) {
      write_error_for(req, res, v.status, v.message, v.param, v.code);
      // The body (if any) is left unread: the connection can not go on.
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!options_.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options_.cors_origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "86400");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Statuses httplib sets itself (413, 404 for unknown paths, 400 for bad
  // requests) get an error body too.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 413:
        write_error_for(req, res, 413,
                        fmt::format("the request body is too large: at most {} bytes", options_.max_body_bytes), "",
                        "request_too_large");
        break;
      case 404:
        write_error_for(req, res, 404, fmt::format("unknown endpoint {} {}", req.method, escape_for_log(req.path)), "",
                        "unknown_url");
        break;
      case 400:
        write_error_for(req, res, 400,
                        "the request is not valid HTTP/1.1 (a malformed request line or header, a header line over "
                        "8 KiB, or a client that stopped sending halfway)",
                        "", "bad_request");
        break;
      case 414:
        write_error_for(req, res, 414, "the request URI is longer than 8 KiB", "", "uri_too_long");
        break;
      default:
        write_error_for(req, res, res.status, fmt::format("HTTP error {}", res.status), "", "");
    }
  });
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      write_error_for(req, res, e.status, e.what(), e.param, e.code);
    } catch (const nlohmann::json::exception&) {
      // A handler read a field as the wrong type: the request's fault, and
      // the library's text (ids, internals) is not for the client.
      write_error_for(req, res, 400, "a field of the request has the wrong type or value", "", "invalid_type");
    } catch (const std::exception& e) {
      fmt::print(stderr, "hearth: internal error on {} {}: {}\n", req.method, escape_for_log(req.path), e.what());
      write_error_for(req, res, 500, "internal server error (logged by the server)", "", "");
    } catch (...) {
      write_error_for(req, res, 500, "internal server error", "", "");
    }
  });
  // Called once the answer is written. Method, path and status only: prompts
  // never reach the log, and the path is escaped so it cannot forge lines.
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (options_.log_requests)
      fmt::print(stderr, "{} {} -> {}\n", escape_for_log(req.method), escape_for_log(req.path), res.status);
    // cpp-httplib 0.11 keeps the connection open whatever the answer's
    // Connection header says.
    if (res.get_header_value("Connection") == "close") ClientWatch(req).shut_down();
  });

  // Liveness plus each model's load (no request content).
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    json models = json::array();
    for (const auto& loaded : registry_->loaded()) {
      const auto& m = loaded.model;
      const EngineStats s = m->engine().stats();
      models.push_back({{"id", m->id()}, {"slots", m->engine().n_slots()}, {"running", s.running}, {"waiting", s.waiting},
                        {"prompt_tokens_evaluated", s.prompt_tokens_evaluated}, {"prompt_tokens_reused", s.prompt_tokens_reused}});
    }
    res.set_content(dump_json(json{{"status", "ok"}, {"models", models}}), "application/json");
  });
  // Stored and loaded models; a loaded one says what it can do.
  const auto list_models = [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const ModelSpec& spec : registry_->catalog()) {
      json entry = {{"id", spec.name}, {"object", "model"}, {"created", int64_t(spec_created(spec))}, {"owned_by", "hearth"}};
      if (const auto m = registry_->loaded_model(spec.name))
        entry["capabilities"] = m->vision() ? json::array({"completion", "vision"}) : json::array({"completion"});
      else if (!spec.load.mmproj.empty())
        entry["capabilities"] = json::array({"completion", "vision"});
      else
        entry["capabilities"] = json::array({"completion"});
      data.push_back(entry);
    }
    res.set_content(dump_json(json{{"object", "list"}, {"data", data}}), "application/json");
  };
  http.Get("/v1/models", list_models);
  http.Get("/models", list_models);
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    const auto spec = registry_->find(req.matches[1]);
    if (!spec)
      throw ApiError(404, fmt::format("The model '{}' does not exist", escape_for_log(req.matches[1].str())),
                     "invalid_request_error", "model", "model_not_found");
    const auto m = registry_->loaded_model(spec->name);
    const bool vision = m ? m->vision() != nullptr : !spec->load.mmproj.empty();
    res.set_content(dump_json(json{{"id", spec->name}, {"object", "model"}, {"created", int64_t(spec_created(*spec))},
                                   {"owned_by", "hearth"},
                                   {"capabilities", vision ? json::array({"completion", "vision"}) : json::array({"completion"})}}),
                    "application/json");
  });
  add_chat_page_routes(http, *this);  // before Ollama's, which also answers GET /
  add_openai_routes(http, *this);
  add_ollama_routes(http, *this);
  add_anthropic_routes(http, *this);
  add_responses_routes(http, *this);
  add_metrics_route(http, *this);
  add_embeddings_routes(http, *this);
}

Server::~Server() = default;

ModelLease Server::resolve(const std::string& name, const nlohmann::json& keep_alive, int64_t min_ctx) {
  return registry_->acquire(name, keep_alive, min_ctx);
}

std::time_t spec_created(const ModelSpec& spec) {
  if (!spec.modified_at.empty()) {  // ISO 8601 UTC from the store
    std::tm tm{};
    if (strptime(spec.modified_at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) return timegm(&tm);
  }
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(spec.load.path, ec);
  if (ec) return std::time(nullptr);
  return std::chrono::system_clock::to_time_t(std::chrono::file_clock::to_sys(mtime));
}

namespace {

// A listening socket on host:port (port 0: any free port, written back).
int listen_on(const std::string& host, int& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr)
    fail("cannot bind to {}: the address is not available", host);
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 511) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    if (port == 0) fail("cannot bind to {}: the address is not available", host);
    fail("cannot bind to {}:{}: the port is in use or the address is not available (pick another with --port)", host,
         port);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0)
    port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

}  // namespace

void Server::run(const std::function<void(int port)>& on_listening) {
  int port = options_.port;
  const int fd = listen_on(options_.host, port);
  bound_port_ = port;
  ConnectionLimits limits;
  limits.max_connections = options_.max_connections;
  limits.request_timeout_s = options_.read_timeout_s;
  limits.write_timeout_s = options_.write_timeout_s;
  limits.max_body_bytes = options_.max_body_bytes;
  limits.worker_threads = options_.http_threads;
  {
    std::lock_guard lock(loop_mutex_);
    if (stop_requested_) {
      ::close(fd);
      return;
    }
    set_listening_socket(*http_, fd);
    loop_ = std::make_unique<ConnectionLoop>(
        fd, limits, [this](httplib::Stream& stream, bool close, bool& closed, const std::function<void(httplib::Request&)>& setup) {
          return process_one_request(*http_, stream, close, closed, setup);
        });
  }
  if (on_listening) on_listening(port);
  loop_->run();
}

void Server::stop() {
  std::lock_guard lock(loop_mutex_);
  stop_requested_ = true;
  set_listening_socket(*http_, -1);  // streamed answers end
  if (loop_) loop_->stop();
}

}  // namespace hearth::server

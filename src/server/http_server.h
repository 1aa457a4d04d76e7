// `hearth serve`: the HTTP server. One process serves every loaded model
// through OpenAI's API (/v1/...) and Ollama's (/api/...), each model with its
// own engine loop; HTTP threads only parse, queue and stream.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/model_registry.h"
#include "server/served_model.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

class ConnectionLoop;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;      // "": no authentication
  std::string cors_origin;  // "": no CORS headers
  std::vector<std::string> allowed_hosts;  // Host names served besides localhost and the bound address
  size_t max_body_bytes = size_t(32) << 20;
  int http_threads = 64;    // requests answered at once (more wait their turn; waiting costs no thread)
  int max_connections = 1024;  // open at once; more are answered 503
  int read_timeout_s = 15;  // a request must arrive whole within this (else 408)
  int write_timeout_s = 30; // a client that reads nothing for this long is dropped
  bool log_requests = true;  // method, path, status and time; never bodies
};

class Server {
 public:
  // Serves these loaded models (tests, fuzzing).
  Server(std::vector<std::unique_ptr<ServedModel>> models, ServerOptions options);
  // Serves what the registry offers, loading models as requests name them.
  Server(std::unique_ptr<ModelRegistry> registry, ServerOptions options);
  ~Server();

  // Binds and serves until stop(); throws when the address cannot be bound.
  // on_listening gets the bound port (for --port 0).
  void run(const std::function<void(int port)>& on_listening = {});
  void stop();

  // The model a request names, loaded when it was not, held for the
  // request (see ModelRegistry::acquire; `keep_alive` is Ollama's field,
  // `min_ctx` its options.num_ctx). Throws ApiError 404 for an unknown name.
  ModelLease resolve(const std::string& name, const nlohmann::json& keep_alive = nullptr, int64_t min_ctx = 0);
  ModelRegistry& registry() { return *registry_; }
  const ServerOptions& options() const { return options_; }
  // The library server, for serve_in_memory (in_memory_http.h).
  httplib::Server& http() { return *http_; }

 private:
  void add_routes();
  std::unique_ptr<ModelRegistry> registry_;
  ServerOptions options_;
  int bound_port_ = 0;
  std::unique_ptr<httplib::Server> http_;
  std::mutex loop_mutex_;
  bool stop_requested_ = false;
  std::unique_ptr<ConnectionLoop> loop_;
};

// Route groups (openai_routes.cpp, ollama_routes.cpp).
void add_openai_routes(httplib::Server& http, Server& server);
void add_ollama_routes(httplib::Server& http, Server& server);
void add_ollama_model_routes(httplib::Server& http, Server& server);  // ollama_models.cpp
void add_anthropic_routes(httplib::Server& http, Server& server);  // anthropic_routes.cpp
void add_responses_routes(httplib::Server& http, Server& server);  // responses_routes.cpp
void add_metrics_route(httplib::Server& http, Server& server);     // metrics.cpp
void add_chat_page_routes(httplib::Server& http, Server& server);  // chat_page.cpp
void add_embeddings_routes(httplib::Server& http, Server& server); // embeddings_routes.cpp

// When a model was pulled or made (the store's time, else the file's).
std::time_t spec_created(const ModelSpec& spec);

// The body as JSON, 400 (naming no field) when it is not a JSON object.
nlohmann::json parse_body(const httplib::Request& req);
// The error body clients of this path expect: Ollama's {"error": "..."} under
// /api/, OpenAI's error object elsewhere.
void write_error_for(const httplib::Request& req, httplib::Response& res, int status, const std::string& message,
                     const std::string& param, const std::string& code);
// OpenAI's error object for an ApiError.
void write_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                 const std::string& param, const std::string& code);
// JSON text with invalid UTF-8 replaced (model output may split characters).
std::string dump_json(const nlohmann::json& value);
std::string dump_json(const nlohmann::ordered_json& value);

}  // namespace hearth::server

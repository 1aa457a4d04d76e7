// libFuzzer target: raw bytes as one connection's requests to `hearth serve`
// (stories260K, a small context), through cpp-httplib's request parsing, the
// pre-routing checks, every route and the error handlers, without a socket
// (server/in_memory_http.h). A crash, a sanitizer report or a 5xx answer to
// any input is a finding: a malformed request must get a 4xx.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "server/http_server.h"
#include "server/in_memory_http.h"

namespace {

hearth::server::Server& fuzz_server() {
  static std::unique_ptr<hearth::server::Server> server = [] {
    hearth::server::ModelLoadOptions m;
    m.path = std::string(HEARTH_SOURCE_DIR) + "/models/stories260K.gguf";
    m.n_ctx = 256;
    m.n_parallel = 2;
    m.n_batch = 64;
    m.n_threads = 1;
    std::vector<std::unique_ptr<hearth::server::ServedModel>> models;
    models.push_back(hearth::server::ServedModel::load(m));
    hearth::server::ServerOptions options;
    options.port = 8080;
    options.log_requests = false;
    options.max_body_bytes = 1 << 20;
    return std::make_unique<hearth::server::Server>(std::move(models), options);
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const hearth::server::InMemoryExchange exchange = hearth::server::serve_in_memory(fuzz_server(), input, 8);
  // Every status line: a 5xx means a handler failed on the request's input.
  for (size_t at = exchange.response.find("HTTP/1.1 "); at != std::string::npos;
       at = exchange.response.find("HTTP/1.1 ", at + 1)) {
    if (exchange.response.compare(at + 9, 1, "5") == 0 && exchange.response.compare(at + 9, 3, "503") != 0) {
      std::fprintf(stderr, "5xx answer:\n%s\n", exchange.response.substr(at, 600).c_str());
      std::abort();
    }
  }
  return 0;
}

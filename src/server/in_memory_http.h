// Serves raw HTTP/1.1 bytes through a Server without a socket: the bytes go
// through cpp-httplib's own request parsing, the pre-routing checks, the
// routes and the error handlers exactly as a connection's would, and the
// response bytes come back. For the HTTP fuzz target and the hostile-request
// tests; the server itself never uses it.
#pragma once

#include <string>
#include <string_view>

#include "server/http_server.h"

namespace hearth::server {

struct InMemoryExchange {
  std::string response;  // every response written, in order
  int requests = 0;      // requests the library parsed and answered
};

// Answers requests from `input` one after another (pipelining) until the
// input ends, the library closes the connection, or max_requests.
InMemoryExchange serve_in_memory(Server& server, std::string_view input, int max_requests = 16);

}  // namespace hearth::server

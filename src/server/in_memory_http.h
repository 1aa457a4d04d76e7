// Serves raw HTTP/1.1 bytes through a Server without a socket: the bytes go
// through cpp-httplib's own request parsing, the pre-routing checks, the
// routes and the error handlers exactly as a connection's would, and the
// response bytes come back. For the HTTP fuzz target and the hostile-request
// tests.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "server/http_server.h"

namespace httplib {
class Stream;
}

namespace hearth::server {

struct InMemoryExchange {
  std::string response;  // every response written, in order
  int requests = 0;      // requests the library parsed and answered
};

// Answers requests from `input` one after another (pipelining) until the
// input ends, the library closes the connection, or max_requests.
InMemoryExchange serve_in_memory(Server& server, std::string_view input, int max_requests = 16);

// One request read from `stream` and answered, as a connection of the
// library's own would be (httplib::Server::process_request, which 0.11.4
// keeps private). For the in-memory exchange and the server's connection loop.
// Tells the library which socket the server listens on (-1: none, shutting
// down): it ends streamed answers while it sees none.
void set_listening_socket(httplib::Server& http, int fd);

bool process_one_request(httplib::Server& http, httplib::Stream& stream, bool close_connection, bool& connection_closed,
                         const std::function<void(httplib::Request&)>& setup_request);

}  // namespace hearth::server

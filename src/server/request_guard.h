// What every request must pass before a route sees it, checked on the
// request line and headers alone (cpp-httplib runs the pre-routing handler
// before it reads the body, so a refused body is never read):
// - framing: one Content-Length of digits (far past the body limit: 413 at
//   once; a little past it, the library drains the body and answers 413), no transfer
//   coding but chunked, no compressed bodies (the library would inflate them
//   and read chunked bodies with no limit), never both Content-Length and
//   Transfer-Encoding;
// - local-only: a Host that names this server (DNS rebinding), an Origin that
//   is this server or --cors, a JSON Content-Type on POST (browsers send
//   text/plain and form bodies cross-site without asking);
// - the API key, compared in constant time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace httplib {
struct Request;
}

namespace hearth::server {

struct GuardConfig {
  std::string bound_host = "127.0.0.1";
  int port = 0;                            // the bound port, for Origin
  std::vector<std::string> allowed_hosts;  // --allowed-host; "*" allows any
  std::string cors_origin;                 // "" none, "*" any
  size_t max_body_bytes = size_t(32) << 20;
  std::string api_key;                     // "": no authentication
};

struct GuardVerdict {
  int status = 0;  // 0: the request may go on
  std::string message;
  std::string code;
  std::string param;
  bool refused() const { return status != 0; }
};

GuardVerdict check_request(const httplib::Request& req, const GuardConfig& config);

// The parts of check_request, for tests and the fuzz target.
GuardVerdict check_framing(const httplib::Request& req, size_t max_body_bytes);
GuardVerdict check_local_only(const httplib::Request& req, const GuardConfig& config);
GuardVerdict check_api_key(const httplib::Request& req, const std::string& api_key);

// Equal strings, in a time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);
// A request path for the log: printable ASCII kept, anything else %XX, at
// most 256 bytes (a path can not forge log lines).
std::string escape_for_log(std::string_view text);
// "Example.COM:8080" -> "example.com", "[::1]:80" -> "::1".
std::string host_without_port(std::string_view host);

}  // namespace hearth::server

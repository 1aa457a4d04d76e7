#include "server/request_guard.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <httplib.h>

namespace hearth::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(uint8_t(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

GuardVerdict refuse(int status, std::string message, std::string code = {}, std::string param = {}) {
  return GuardVerdict{status, std::move(message), std::move(code), std::move(param)};
}

bool is_loopback_name(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host.ends_with(".localhost");
}

bool is_ip_literal(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;  // IPv6 (brackets already removed)
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(uint8_t(c)) || c == '.'; });
}

bool is_wildcard_address(const std::string& host) { return host == "0.0.0.0" || host == "::" || host.empty(); }

bool host_allowed(const std::string& host, const GuardConfig& config) {
  if (is_loopback_name(host)) return true;
  if (host == lower(config.bound_host)) return true;
  for (const std::string& allowed : config.allowed_hosts)
    if (allowed == "*" || lower(allowed) == host) return true;
  // Bound to every address: the LAN reaches the server by IP. DNS rebinding
  // needs a name, so an IP literal is safe; names still need --allowed-host.
  if (is_wildcard_address(config.bound_host) && is_ip_literal(host)) return true;
  return false;
}

}  // namespace

std::string host_without_port(std::string_view host) {
  host = trim(host);
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return lower(close == std::string_view::npos ? host.substr(1) : host.substr(1, close - 1));
  }
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) host = host.substr(0, colon);
  std::string out = lower(host);
  if (!out.empty() && out.back() == '.') out.pop_back();  // "localhost." is localhost
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer string is read whatever the contents.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? uint8_t(a[i]) : 0;
    const unsigned char y = i < b.size() ? uint8_t(b[i]) : 0;
    diff |= uint8_t(x ^ y);
  }
  return diff == 0;
}

std::string escape_for_log(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= 256) {
      out += "...";
      break;
    }
    const auto u = uint8_t(c);
    if (u > 0x20 && u < 0x7F && c != '%') out += c;
    else out += fmt::format("%{:02X}", u);
  }
  return out;
}

GuardVerdict check_framing(const httplib::Request& req, size_t max_body_bytes) {
  const size_t n_length = req.get_header_value_count("Content-Length");
  const size_t n_coding = req.get_header_value_count("Transfer-Encoding");
  if (n_length > 1) {
    // Two lengths (even equal ones) are how requests are smuggled past proxies.
    return refuse(400, "the request has more than one Content-Length header", "bad_framing");
  }
  if (n_length == 1 && n_coding > 0)
    return refuse(400, "the request has both Content-Length and Transfer-Encoding", "bad_framing");
  if (n_length == 1) {
    // The library returns the header by value: keep it while `value` views it.
    const std::string header = req.get_header_value("Content-Length");
    const std::string_view value = trim(header);
    if (value.empty() || value.size() > 19 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return refuse(400, fmt::format("Content-Length '{}' is not a byte count", escape_for_log(value.substr(0, 32))),
                    "bad_framing");
    // Over the limit by a little, the library reads and drops the body and
    // answers 413, so a client still sending gets that answer; far over it,
    // reading would take too long: refused at once.
    const uint64_t length = std::stoull(std::string(value));
    if (length > max_body_bytes && length / 8 > max_body_bytes)
      return refuse(413, fmt::format("the request body is too large: {} bytes, at most {}", length, max_body_bytes),
                    "request_too_large");
  }
  if (n_coding > 0) {
    std::string codings;
    for (size_t i = 0; i < n_coding; ++i) codings += (i ? "," : "") + req.get_header_value("Transfer-Encoding", i);
    if (lower(trim(codings)) != "chunked")
      return refuse(400, fmt::format("Transfer-Encoding '{}' is not supported", escape_for_log(codings.substr(0, 64))),
                    "bad_framing");
    // The library reads a chunked body whole, with no size limit.
    return refuse(411, "send the request body with a Content-Length (chunked request bodies are not accepted)",
                  "length_required");
  }
  if (req.has_header("Content-Encoding")) {
    const std::string coding = lower(trim(req.get_header_value("Content-Encoding")));
    if (coding != "identity" && !coding.empty())
      return refuse(415, fmt::format("Content-Encoding '{}' is not accepted: send the body uncompressed",
                                     escape_for_log(coding.substr(0, 64))),
                    "unsupported_encoding");
  }
  return {};
}

GuardVerdict check_local_only(const httplib::Request& req, const GuardConfig& config) {
  // Host: a page on another name that resolves here (DNS rebinding) must not
  // be served. HTTP/1.1 requires the header.
  if (!req.has_header("Host")) {
    if (req.version == "HTTP/1.1") return refuse(400, "the request has no Host header", "bad_host");
  } else {
    if (req.get_header_value_count("Host") > 1) return refuse(400, "the request has more than one Host header", "bad_host");
    const std::string host = host_without_port(req.get_header_value("Host"));
    if (!host_allowed(host, config))
      return refuse(403,
                    fmt::format("Host '{}' is not this server: add --allowed-host {} to serve it under that name",
                                escape_for_log(host.substr(0, 64)), escape_for_log(host.substr(0, 64))),
                    "host_not_allowed");
  }
  // Origin: browsers send it on cross-site requests; only this server's own
  // pages and --cors may use the API.
  if (req.has_header("Origin") && config.cors_origin != "*") {
    const std::string origin = std::string(trim(req.get_header_value("Origin")));
    bool allowed = !config.cors_origin.empty() && origin == config.cors_origin;
    if (!allowed) {
      for (const char* scheme : {"http://", "https://"}) {
        if (!origin.starts_with(scheme)) continue;
        const std::string_view authority = std::string_view(origin).substr(std::char_traits<char>::length(scheme));
        const std::string host = host_without_port(authority);
        const size_t colon = authority.rfind(':');
        const bool has_port = colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos;
        const std::string port = has_port ? std::string(authority.substr(colon + 1)) : "";
        allowed = (is_loopback_name(host) || host == lower(config.bound_host)) && config.port > 0 &&
                  port == std::to_string(config.port);
      }
    }
    if (!allowed)
      return refuse(403,
                    fmt::format("Origin '{}' may not use this server: start it with --cors {} to allow that page",
                                escape_for_log(origin.substr(0, 128)), escape_for_log(origin.substr(0, 128))),
                    "origin_not_allowed");
  }
  if (req.method == "POST") {
    const std::string type = lower(trim(req.get_header_value("Content-Type")));
    const std::string media = std::string(trim(std::string_view(type).substr(0, type.find(';'))));
    if (media != "application/json" && !media.ends_with("+json"))
      return refuse(415,
                    fmt::format("Content-Type '{}' is not accepted: send the body as JSON with 'Content-Type: "
                                "application/json'",
                                escape_for_log(media.substr(0, 64))),
                    "unsupported_media_type");
  }
  return {};
}

GuardVerdict check_api_key(const httplib::Request& req, const std::string& api_key) {
  if (api_key.empty()) return {};
  const std::string auth = req.get_header_value("Authorization");
  const std::string x_api_key = req.get_header_value("x-api-key");
  if (auth.empty() && x_api_key.empty())
    return refuse(401, "You didn't provide an API key: send the header 'Authorization: Bearer KEY'.", "invalid_api_key");
  // Both are compared whatever the first gives, so the time says nothing.
  const bool bearer_ok = constant_time_equal(auth, "Bearer " + api_key);
  const bool header_ok = !x_api_key.empty() && constant_time_equal(x_api_key, api_key);
  if (!bearer_ok && !header_ok) return refuse(401, "Incorrect API key provided.", "invalid_api_key");
  return {};
}

GuardVerdict check_request(const httplib::Request& req, const GuardConfig& config) {
  if (GuardVerdict v = check_framing(req, config.max_body_bytes); v.refused()) return v;
  if (GuardVerdict v = check_local_only(req, config); v.refused()) return v;
  const bool open_path = req.path == "/health" || req.path == "/";
  if (req.method == "OPTIONS" || open_path) return {};
  return check_api_key(req, config.api_key);
}

}  // namespace hearth::server

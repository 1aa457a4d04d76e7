// An error a request handler answers with: the HTTP status and OpenAI's
// error object ({"error": {"message", "type", "param", "code"}}).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace hearth::server {

struct ApiError : std::runtime_error {
  int status;
  std::string type;   // invalid_request_error, authentication_error, ...
  std::string param;  // the offending field, "" for none
  std::string code;   // context_length_exceeded, model_not_found, ...
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {},
           std::string code = {})
      : std::runtime_error(std::move(message)), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
};

// 400 naming the field.
template <typename... Args>
[[noreturn]] void bad_request(const std::string& param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError(400, fmt::format(format, std::forward<Args>(args)...), "invalid_request_error", param);
}

// The client closed the connection before a whole (not streamed) answer was
// ready: its generation was cancelled (nginx's 499; rarely read by anyone).
[[noreturn]] inline void throw_client_closed() {
  throw ApiError(499,
                 "the client closed the connection before the answer was ready, so the generation was cancelled",
                 "invalid_request_error", "", "client_closed_request");
}

}  // namespace hearth::server

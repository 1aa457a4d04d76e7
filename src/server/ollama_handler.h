// Ollama's routes answer errors as {"error": "..."}: this wraps a handler so
// every error leaves in that form, with a message a user can act on and no
// library text.
#pragma once

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/request_guard.h"

namespace hearth::server {

// An ApiError with its status; a field of the wrong type 400; hearth's own
// errors (a pull that failed, a file that is not a model) 500 with their
// message, which says what went wrong; anything else 500, logged.
template <typename Fn>
auto ollama_handler(Server& server, Fn fn) {
  return [&server, fn](const httplib::Request& req, httplib::Response& res) {
    const auto answer = [&res](int status, const std::string& message) {
      res.status = status;
      res.set_content(dump_json(nlohmann::json{{"error", message}}), "application/json");
    };
    try {
      fn(server, req, res);
    } catch (const ApiError& e) {
      answer(e.status, e.what());
    } catch (const nlohmann::json::exception&) {
      answer(400, "a field of the request has the wrong type or value");
    } catch (const Error& e) {
      answer(500, e.what());
    } catch (const std::exception& e) {
      fmt::print(stderr, "hearth: internal error on {}: {}\n", escape_for_log(req.path), e.what());
      answer(500, "internal server error (logged by the server)");
    }
  };
}

}  // namespace hearth::server

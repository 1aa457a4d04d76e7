#include "server/in_memory_http.h"

#include <httplib.h>

namespace hearth::server {
namespace {

class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(std::string_view input, std::string& output) : input_(input), output_(output) {}
  bool is_readable() const override { return pos_ < input_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, input_.size() - pos_);
    std::copy_n(input_.data() + pos_, n, ptr);
    pos_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    output_.append(ptr, size);
    return ssize_t(size);
  }
  // No peer address: ClientWatch then watches nothing.
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = -1; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = -1; }
  socket_t socket() const override { return INVALID_SOCKET; }
  bool at_end() const { return pos_ >= input_.size(); }

 private:
  std::string_view input_;
  std::string& output_;
  size_t pos_ = 0;
};

// httplib::Server::process_request (one request read from a Stream and
// answered) is private; an explicit instantiation may name a private member
// ([temp.spec.general]), and this one hands its address out.
using ProcessRequest = bool (httplib::Server::*)(httplib::Stream&, bool, bool&,
                                                 const std::function<void(httplib::Request&)>&);
ProcessRequest process_request_member();
template <ProcessRequest Member>
struct ProcessRequestAccess {
  friend ProcessRequest process_request_member() { return Member; }
};
template struct ProcessRequestAccess<&httplib::Server::process_request>;

// httplib::Server::svr_sock_ (private too): the library ends every streamed
// answer at once while it holds no listening socket (it takes that for a
// server shutting down).
using ListeningSocket = std::atomic<socket_t> httplib::Server::*;
ListeningSocket listening_socket_member();
template <ListeningSocket Member>
struct ListeningSocketAccess {
  friend ListeningSocket listening_socket_member() { return Member; }
};
template struct ListeningSocketAccess<&httplib::Server::svr_sock_>;

}  // namespace

void set_listening_socket(httplib::Server& http, int fd) { (http.*listening_socket_member()) = fd; }

bool process_one_request(httplib::Server& http, httplib::Stream& stream, bool close_connection, bool& connection_closed,
                         const std::function<void(httplib::Request&)>& setup_request) {
  const ProcessRequest process = process_request_member();
  return (http.*process)(stream, close_connection, connection_closed, setup_request);
}

InMemoryExchange serve_in_memory(Server& server, std::string_view input, int max_requests) {
  InMemoryExchange out;
  MemoryStream stream(input, out.response);
  for (int i = 0; i < max_requests && !stream.at_end(); ++i) {
    bool closed = false;
    const bool ok = process_one_request(server.http(), stream, /*close_connection=*/false, closed, nullptr);
    ++out.requests;
    if (!ok || closed) break;
  }
  return out;
}

}  // namespace hearth::server

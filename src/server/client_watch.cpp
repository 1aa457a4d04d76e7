#include "server/client_watch.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string>
#include <system_error>

#include <httplib.h>

namespace hearth::server {
namespace {

bool same_endpoint(const sockaddr_storage& addr, socklen_t len, const std::string& host, int port) {
  char name[NI_MAXHOST], service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, name, sizeof name, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  return host == name && std::to_string(port) == service;
}

}  // namespace

ClientWatch::ClientWatch(const httplib::Request& req) : may_probe_(req.version == "HTTP/1.1") {
  if (req.remote_port < 0 || req.local_port < 0) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    if (same_endpoint(peer, peer_len, req.remote_addr, req.remote_port) &&
        same_endpoint(local, local_len, req.local_addr, req.local_port)) {
      fd_ = fd;
      return;
    }
  }
}

void ClientWatch::shut_down() const {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

bool ClientWatch::gone() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLRDHUP) {
    // The client's end of stream: a client that left, or one that only
    // half-closed after its request (legal in HTTP, and it still reads the
    // answer). Only a write tells them apart: an interim 102 answer, which
    // HTTP/1.1 clients must accept before the final one, makes a closed
    // socket reset, and the next look sees that. HTTP/1.0 has no 1xx.
    if (!may_probe_) return true;
    if (!probed_) {
      probed_ = true;
      static constexpr char kProcessing[] = "HTTP/1.1 102 Processing\r\n\r\n";
      if (send(fd_, kProcessing, sizeof kProcessing - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) return true;
    }
    return false;
  }
  // Readable: bytes of a next (pipelined) request, or an error.
  char byte;
  const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace hearth::server

// Whether the client of an HTTP request is still connected, for requests
// answered in one piece: the handler waits for the whole generation, and a
// client that gives up meanwhile must free its slot. cpp-httplib 0.11 gives
// a handler no access to its socket, so the connection's socket is found
// once among this process's descriptors (/proc/self/fd) by its two
// addresses, and then probed without reading anything from it.
#pragma once

namespace httplib {
struct Request;
}

namespace hearth::server {

class ClientWatch {
 public:
  explicit ClientWatch(const httplib::Request& req);
  // True once the client has closed or reset the connection (an end of
  // stream is probed first: it may be a half-close). False when the socket
  // was not found (nothing is cancelled then).
  bool gone() const;
  bool watching() const { return fd_ >= 0; }
  // Ends the connection once the answer is written (both directions shut
  // down; the library closes it on its next read). For requests refused
  // before their body was read: the library would take the body for the
  // next request and wait for it to end.
  void shut_down() const;

 private:
  int fd_ = -1;
  bool may_probe_ = false;       // HTTP/1.1: an interim answer may be written
  mutable bool probed_ = false;  // the 102 is written at most once
};

}  // namespace hearth::server

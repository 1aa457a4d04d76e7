// The server's connections, event-driven: one thread (epoll) accepts
// connections and reads each request until the whole of it (head and body)
// has arrived, within limits on its size, its header count and its time.
// Only then does a worker thread run it through cpp-httplib's parsing and
// routes and write the answer. So a slow, trickling or idle client costs a
// buffer, never a thread, and is cut off when its time is up (408); bytes
// of a next (pipelined) request read with the first are kept for it; and a
// client that half-closes after sending gets its answer.
//
// cpp-httplib 0.11.4 alone serves a connection on one thread from start to
// end, resets its read timeout on every byte, has no header count limit,
// drops pipelined read-ahead and treats a half-close as a dead connection.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

namespace httplib {
class Stream;
struct Request;
}  // namespace httplib

namespace hearth::server {

struct ConnectionLimits {
  int max_connections = 1024;   // open at once; more get 503 and are closed
  int request_timeout_s = 15;   // from a request's first byte to its last
  int idle_timeout_s = 5;       // keep-alive: between requests
  int write_timeout_s = 30;     // an answer the client does not read
  size_t max_head_bytes = 64 << 10;
  int max_header_count = 100;
  size_t max_body_bytes = size_t(32) << 20;
  size_t max_buffered_bytes = size_t(512) << 20;  // over all connections
  int max_requests_per_connection = 1000;
  int worker_threads = 64;      // requests answered at once; more wait their turn
};

// Where a request ends in the bytes received so far.
struct RequestExtent {
  enum Kind {
    Incomplete,      // more bytes needed
    Complete,        // `bytes` bytes form one request (or a head the library will refuse)
    TooManyHeaders,  // 431
    HeadTooLarge,    // 431
  } kind = Incomplete;
  size_t bytes = 0;
};

// Finds the end of the first request in `received`: its head ends at the
// first empty line; its body is Content-Length bytes. A head with framing
// the library must refuse (a transfer coding, an invalid, negative or
// repeated Content-Length, or one over the body limit) is Complete without
// its body: cpp-httplib and the request guard answer it 400/411/413 and the
// connection is closed.
RequestExtent find_request_extent(std::string_view received, const ConnectionLimits& limits);

class ConnectionLoop {
 public:
  // Answers one request read from the stream, as httplib::Server's
  // process_request does; `setup` adjusts the parsed request before routing.
  using ProcessRequest = std::function<bool(httplib::Stream& stream, bool close_connection, bool& connection_closed,
                                            const std::function<void(httplib::Request&)>& setup)>;

  // listen_fd is bound and listening; the loop owns and closes it.
  ConnectionLoop(int listen_fd, ConnectionLimits limits, ProcessRequest process);
  ~ConnectionLoop();
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  // Serves until stop(); then closes every connection and waits for the
  // requests being answered.
  void run();
  // From any thread.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace hearth::server

#include "server/connection_loop.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace hearth::server {
namespace {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(uint8_t(x)) == std::tolower(uint8_t(y)); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Grows a thread per queued request up to its size; requests past that wait
// for the first free thread.
class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads) : max_threads_(std::max<size_t>(max_threads, 1)) {}
  ~WorkerPool() { shutdown(); }

  void enqueue(std::function<void()> job) {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    if (jobs_.size() > idle_ && threads_.size() < max_threads_) threads_.emplace_back([this] { work(); });
    else cv_.notify_one();
  }

  // Runs what is queued, then joins.
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

struct Connection {
  int fd = -1;
  std::string received;   // bytes read and not yet answered
  std::string peer_ip, local_ip;
  int peer_port = -1, local_port = -1;
  Clock::time_point deadline;
  int requests = 0;
  bool peer_closed = false;  // the client has finished sending (half or whole close)
  bool dispatched = false;   // a worker owns it
  bool draining = false;     // refused: the answer is written, input read until the client closes
  bool close_after = false;  // set by the worker
  size_t answered = 0;       // bytes of `received` the worker answered; the loop drops them
};

void endpoint(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST], service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return;
  ip = host;
  port = std::atoi(service);
}

// One request's bytes, already received, for the library to parse; its
// answer goes straight to the socket, waiting for the client to read at
// most the write timeout at a time.
class BufferedSocketStream : public httplib::Stream {
 public:
  BufferedSocketStream(const Connection& c, size_t request_bytes, int write_timeout_ms)
      : c_(c), limit_(request_bytes), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return pos_ < limit_; }
  bool is_writable() const override {
    pollfd p{c_.fd, POLLOUT, 0};
    return ::poll(&p, 1, write_timeout_ms_) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
  }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, limit_ - pos_);
    std::copy_n(c_.received.data() + pos_, n, ptr);
    pos_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size && !failed_) {
      const ssize_t n = ::send(c_.fd, ptr + done, size - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += size_t(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{c_.fd, POLLOUT, 0};
        if (::poll(&p, 1, write_timeout_ms_) <= 0 || (p.revents & (POLLERR | POLLNVAL)) != 0) failed_ = true;
      } else {
        failed_ = true;
      }
    }
    return failed_ ? -1 : ssize_t(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = c_.peer_ip, port = c_.peer_port; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = c_.local_ip, port = c_.local_port; }
  socket_t socket() const override { return c_.fd; }
  bool failed() const { return failed_; }

 private:
  const Connection& c_;
  size_t pos_ = 0, limit_;
  int write_timeout_ms_;
  bool failed_ = false;
};

// An answer written by the loop itself (the library never saw the request):
// the error body the request's API expects, Ollama's under /api/.
std::string refusal(int status, std::string_view reason, const std::string& message, const std::string& code,
                    std::string_view received) {
  const size_t space = received.find(' ');
  const bool ollama = space != std::string_view::npos && received.substr(space + 1).starts_with("/api/");
  const nlohmann::json body =
      ollama ? nlohmann::json{{"error", message}}
             : nlohmann::json{{"error", {{"message", message}, {"type", "invalid_request_error"}, {"param", nullptr}, {"code", code}}}};
  const std::string text = body.dump();
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(text.size()) +
         "\r\n\r\n" + text;
}

}  // namespace

RequestExtent find_request_extent(std::string_view received, const ConnectionLimits& limits) {
  const size_t head_end = received.find("\r\n\r\n");
  const std::string_view head = received.substr(0, std::min(head_end, received.size()));
  int lines = 0;
  for (size_t at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) ++lines;
  if (lines > limits.max_header_count) return {RequestExtent::TooManyHeaders, 0};  // the request line is line 0
  if (head_end == std::string_view::npos)
    return {received.size() > limits.max_head_bytes ? RequestExtent::HeadTooLarge : RequestExtent::Incomplete, 0};
  const size_t head_bytes = head_end + 4;
  if (head_bytes > limits.max_head_bytes) return {RequestExtent::HeadTooLarge, 0};

  bool refused_framing = false;
  int lengths = 0;
  uint64_t length = 0;
  size_t at = head.find("\r\n");
  while (at != std::string_view::npos) {
    const size_t next = head.find("\r\n", at + 2);
    const std::string_view line = head.substr(at + 2, next == std::string_view::npos ? std::string_view::npos : next - at - 2);
    at = next;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "Transfer-Encoding")) refused_framing = true;
    if (!iequals(name, "Content-Length")) continue;
    ++lengths;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec != std::errc{} || end != value.data() + value.size() || value.empty()) refused_framing = true;
  }
  if (refused_framing || lengths > 1 || length > limits.max_body_bytes) return {RequestExtent::Complete, head_bytes};
  if (received.size() < head_bytes + length) return {RequestExtent::Incomplete, 0};
  return {RequestExtent::Complete, head_bytes + size_t(length)};
}

struct ConnectionLoop::State {
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  ConnectionLimits limits;
  ProcessRequest process;
  std::atomic<bool> stopping{false};
  std::unordered_map<int, std::shared_ptr<Connection>> connections;
  size_t buffered = 0;  // bytes in every connection's `received`
  WorkerPool workers;
  std::mutex returned_mutex;
  std::vector<std::shared_ptr<Connection>> returned;  // answered by a worker, back to the loop

  State(int fd, ConnectionLimits l, ProcessRequest p)
      : listen_fd(fd), limits(l), process(std::move(p)), workers(size_t(l.worker_threads)) {}

  void watch(Connection& c) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = c.fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void close_connection(const std::shared_ptr<Connection>& c) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    buffered -= c->received.size();
    connections.erase(c->fd);
  }

  // Writes the loop's own answer, then reads (and drops) what the client
  // still sends until it closes or a second passes: closing with unread
  // input would reset the connection and could lose the answer.
  void refuse(const std::shared_ptr<Connection>& c, int status, std::string_view reason, const std::string& message,
              const std::string& code) {
    const std::string answer = refusal(status, reason, message, code, c->received);
    (void)!::send(c->fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(c->fd, SHUT_WR);
    buffered -= c->received.size();
    c->received.clear();
    c->draining = true;
    c->deadline = Clock::now() + std::chrono::seconds(1);
    if (c->peer_closed) close_connection(c);
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a connection that went away before it was accepted
      if (connections.size() >= size_t(limits.max_connections)) {
        const std::string answer =
            refusal(503, "Service Unavailable",
                    "the server has too many open connections; close idle ones or try again", "too_many_connections", "");
        (void)!::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // streamed tokens are small writes
      auto c = std::make_shared<Connection>();
      c->fd = fd;
      endpoint(peer, peer_len, c->peer_ip, c->peer_port);
      sockaddr_storage local{};
      socklen_t local_len = sizeof local;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0)
        endpoint(local, local_len, c->local_ip, c->local_port);
      c->deadline = Clock::now() + std::chrono::seconds(limits.idle_timeout_s);
      connections.emplace(fd, c);
      watch(*c);
    }
  }

  void on_readable(const std::shared_ptr<Connection>& c) {
    char chunk[64 << 10];
    for (;;) {
      const ssize_t n = ::recv(c->fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        if (c->draining) continue;
        // A request's time runs from its first byte.
        if (c->received.empty()) c->deadline = Clock::now() + std::chrono::seconds(limits.request_timeout_s);
        c->received.append(chunk, size_t(n));
        buffered += size_t(n);
        if (buffered > limits.max_buffered_bytes) {
          refuse(c, 503, "Service Unavailable", "the server is holding too many request bytes; try again", "server_busy");
          return;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      c->peer_closed = true;  // end of stream, or an error
      break;
    }
    if (c->draining) {
      if (c->peer_closed) close_connection(c);
      return;
    }
    dispatch_if_complete(c);
    if (!c->dispatched && !c->draining && c->peer_closed) close_connection(c);
  }

  void dispatch_if_complete(const std::shared_ptr<Connection>& c) {
    if (c->received.empty()) return;
    const RequestExtent extent = find_request_extent(c->received, limits);
    switch (extent.kind) {
      case RequestExtent::Incomplete:
        return;
      case RequestExtent::TooManyHeaders:
        refuse(c, 431, "Request Header Fields Too Large",
               "the request has more than " + std::to_string(limits.max_header_count) + " header lines",
               "too_many_headers");
        return;
      case RequestExtent::HeadTooLarge:
        refuse(c, 431, "Request Header Fields Too Large",
               "the request line and headers are over " + std::to_string(limits.max_head_bytes / 1024) + " KiB",
               "headers_too_large");
        return;
      case RequestExtent::Complete:
        break;
    }
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    c->dispatched = true;
    workers.enqueue([this, c, bytes = extent.bytes] { answer(c, bytes); });
  }

  // On a worker: one request through the library, then back to the loop.
  void answer(const std::shared_ptr<Connection>& c, size_t bytes) {
    BufferedSocketStream stream(*c, bytes, limits.write_timeout_s * 1000);
    const bool last = c->peer_closed || c->requests + 1 >= limits.max_requests_per_connection;
    bool closed = false;
    bool ok = false;
    try {
      ok = process(stream, last, closed, nullptr);
    } catch (...) {
      ok = false;  // the library's handlers catch everything; a throw here ends only this connection
    }
    c->requests += 1;
    c->close_after = !ok || closed || last || stream.failed();
    c->answered = bytes;
    {
      std::lock_guard lock(returned_mutex);
      returned.push_back(c);
    }
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  void take_back_answered() {
    std::vector<std::shared_ptr<Connection>> back;
    {
      std::lock_guard lock(returned_mutex);
      back.swap(returned);
    }
    for (const auto& c : back) {
      c->dispatched = false;
      c->received.erase(0, c->answered);
      buffered -= c->answered;
      c->answered = 0;
      if (c->close_after || stopping) {
        close_connection(c);
        continue;
      }
      c->deadline = Clock::now() + std::chrono::seconds(c->received.empty() ? limits.idle_timeout_s : limits.request_timeout_s);
      watch(*c);
      dispatch_if_complete(c);  // a pipelined request already read
    }
  }

  void expire(Clock::time_point now) {
    std::vector<std::shared_ptr<Connection>> late;
    for (const auto& [fd, c] : connections)
      if (!c->dispatched && now >= c->deadline) late.push_back(c);
    for (const auto& c : late) {
      if (c->draining || c->received.empty()) {
        close_connection(c);
      } else {
        refuse(c, 408, "Request Timeout",
               "the request did not arrive whole within " + std::to_string(limits.request_timeout_s) + " s",
               "request_timeout");
      }
    }
  }
};

ConnectionLoop::ConnectionLoop(int listen_fd, ConnectionLimits limits, ProcessRequest process)
    : state_(std::make_unique<State>(listen_fd, limits, std::move(process))) {
  state_->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  state_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ConnectionLoop::~ConnectionLoop() {
  state_->workers.shutdown();
  for (const auto& [fd, c] : state_->connections) ::close(fd);
  if (state_->listen_fd >= 0) ::close(state_->listen_fd);
  if (state_->epoll_fd >= 0) ::close(state_->epoll_fd);
  if (state_->wake_fd >= 0) ::close(state_->wake_fd);
}

void ConnectionLoop::run() {
  State& s = *state_;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = s.listen_fd;
  epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  ev.data.fd = s.wake_fd;
  epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.wake_fd, &ev);

  std::vector<epoll_event> events(256);
  while (!s.stopping) {
    const int n = epoll_wait(s.epoll_fd, events.data(), int(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      const int fd = events[size_t(i)].data.fd;
      if (fd == s.listen_fd) {
        s.accept_all();
      } else if (fd == s.wake_fd) {
        uint64_t count;
        (void)!::read(s.wake_fd, &count, sizeof count);
      } else if (auto it = s.connections.find(fd); it != s.connections.end() && !it->second->dispatched) {
        s.on_readable(std::shared_ptr<Connection>(it->second));
      }
    }
    s.take_back_answered();
    s.expire(Clock::now());
  }
  ::close(s.listen_fd);
  s.listen_fd = -1;
  s.workers.shutdown();  // the requests being answered finish
  s.take_back_answered();
  for (const auto& [fd, c] : s.connections) ::close(fd);
  s.connections.clear();
}

void ConnectionLoop::stop() {
  state_->stopping = true;
  const uint64_t one = 1;
  (void)!::write(state_->wake_fd, &one, sizeof one);
}

}  // namespace hearth::server

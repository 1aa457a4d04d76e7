// The event-driven connection loop (server/connection_loop.h): where a
// request ends in the bytes received, and, over real sockets against a
// served model, what cpp-httplib 0.11.4's own loop got wrong: pipelined
// requests, half-closed clients, trickling clients holding worker threads,
// an unbounded header count, and no connection limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "server/connection_loop.h"
#include "server/http_server.h"
#include "server/stories_model.h"

namespace hearth::server {
namespace {

using Clock = std::chrono::steady_clock;

TEST(RequestExtent, HeadAndContentLengthBody) {
  ConnectionLimits limits;
  EXPECT_EQ(find_request_extent("GET / HTTP/1.1\r\nHost: x\r\n", limits).kind, RequestExtent::Incomplete);
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  RequestExtent e = find_request_extent(get + "GET /next", limits);
  EXPECT_EQ(e.kind, RequestExtent::Complete);
  EXPECT_EQ(e.bytes, get.size());
  const std::string post = "POST /v1 HTTP/1.1\r\ncontent-length: 5\r\n\r\n";
  EXPECT_EQ(find_request_extent(post + "abc", limits).kind, RequestExtent::Incomplete);
  e = find_request_extent(post + "abcdeGET", limits);
  EXPECT_EQ(e.kind, RequestExtent::Complete);
  EXPECT_EQ(e.bytes, post.size() + 5);
}

TEST(RequestExtent, FramingTheLibraryRefusesEndsAtTheHead) {
  ConnectionLimits limits;
  limits.max_body_bytes = 100;
  for (const char* header : {"Transfer-Encoding: chunked", "Content-Length: -1", "Content-Length: 12x",
                             "Content-Length: 18446744073709551616", "Content-Length: 101"}) {
    const std::string head = std::string("POST / HTTP/1.1\r\n") + header + "\r\n\r\n";
    const RequestExtent e = find_request_extent(head + "body", limits);
    EXPECT_EQ(e.kind, RequestExtent::Complete) << header;
    EXPECT_EQ(e.bytes, head.size()) << header;
  }
  const std::string twice = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n";
  EXPECT_EQ(find_request_extent(twice + "ab", limits).bytes, twice.size());
}

TEST(RequestExtent, HeaderCountAndHeadSizeAreBounded) {
  ConnectionLimits limits;
  limits.max_header_count = 3;
  limits.max_head_bytes = 64;
  EXPECT_EQ(find_request_extent("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", limits).kind, RequestExtent::Complete);
  // Known before the head ends: a client cannot keep sending header lines.
  EXPECT_EQ(find_request_extent("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n", limits).kind,
            RequestExtent::TooManyHeaders);
  EXPECT_EQ(find_request_extent("GET /" + std::string(80, 'a'), limits).kind, RequestExtent::HeadTooLarge);
}

// A served stories260K on a free port, with a small worker pool and short
// timeouts so that the limits show quickly.
class LiveServer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<ServedModel>> models;
    models.push_back(test::load_stories260K());
    ServerOptions options;
    options.port = 0;
    options.log_requests = false;
    options.http_threads = 2;
    options.max_connections = 24;
    options.read_timeout_s = 2;
    server_ = std::make_unique<Server>(std::move(models), options);
    std::promise<int> bound;
    auto port = bound.get_future();
    thread_ = std::thread([&] { server_->run([&](int p) { bound.set_value(p); }); });
    port_ = port.get();
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  int connect_client() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }

  // Everything the server writes until it closes or `ms` pass.
  static std::string read_all(int fd, int ms) {
    std::string out;
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, int(left)) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }

  static std::vector<int> statuses(const std::string& text) {
    std::vector<int> out;
    for (size_t at = text.find("HTTP/1.1 "); at != std::string::npos; at = text.find("HTTP/1.1 ", at + 1))
      out.push_back(std::atoi(text.c_str() + at + 9));
    return out;
  }

  std::string host() const { return "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n"; }

  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(LiveServer, PipelinedRequestsAreAllAnswered) {
  const int fd = connect_client();
  const std::string get = "GET /health HTTP/1.1\r\n" + host() + "\r\n";
  const std::string last = "GET /v1/models HTTP/1.1\r\n" + host() + "Connection: close\r\n\r\n";
  const std::string all = get + get + last;
  ASSERT_EQ(::send(fd, all.data(), all.size(), 0), ssize_t(all.size()));
  const std::string answer = read_all(fd, 5000);
  ::close(fd);
  EXPECT_EQ(statuses(answer), (std::vector<int>{200, 200, 200})) << answer;
  EXPECT_NE(answer.find("\"object\":\"list\""), std::string::npos);
}

TEST_F(LiveServer, HalfClosedClientGetsItsAnswer) {
  const int fd = connect_client();
  const std::string body = R"({"prompt":"Once upon a time","max_tokens":8,"temperature":0})";
  const std::string request = "POST /v1/completions HTTP/1.1\r\n" + host() +
                              "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  ::shutdown(fd, SHUT_WR);
  const std::string answer = read_all(fd, 10000);
  ::close(fd);
  // An interim 102 may come first: the server's probe of the end of stream.
  std::vector<int> final_statuses = statuses(answer);
  std::erase(final_statuses, 102);
  EXPECT_EQ(final_statuses, std::vector<int>{200}) << answer;
  EXPECT_NE(answer.find("\"choices\""), std::string::npos) << answer;
}

TEST_F(LiveServer, StreamedAnswersArriveWhole) {
  const int fd = connect_client();
  const std::string body = R"({"prompt":"Once upon a time","max_tokens":40,"ignore_eos":true,"stream":true})";
  const std::string request = "POST /v1/completions HTTP/1.1\r\n" + host() +
                              "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  const std::string answer = read_all(fd, 10000);
  ::close(fd);
  EXPECT_EQ(statuses(answer), std::vector<int>{200}) << answer;
  EXPECT_NE(answer.find(R"("finish_reason":"length")"), std::string::npos) << answer;
  EXPECT_NE(answer.find("data: [DONE]"), std::string::npos);
}

TEST_F(LiveServer, TricklingClientsHoldNoWorkerAndAreCutOffWhole) {
  // Eight clients trickle a head a byte at a time (more than the two
  // workers); each byte would have reset the library's read timeout.
  std::vector<int> slow;
  for (int i = 0; i < 8; ++i) slow.push_back(connect_client());
  const std::string head = "GET /health HTTP/1.1\r\n" + host() + "X-Padding: " + std::string(200, 'a') + "\r\n\r\n";
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    for (size_t i = 0; i < head.size() && trickling; ++i) {
      for (int fd : slow) (void)!::send(fd, &head[i], 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  // Meanwhile others are answered at once.
  for (int i = 0; i < 3; ++i) {
    const int fd = connect_client();
    const std::string get = "GET /health HTTP/1.1\r\n" + host() + "Connection: close\r\n\r\n";
    ::send(fd, get.data(), get.size(), 0);
    const auto t0 = Clock::now();
    const std::string answer = read_all(fd, 5000);
    ::close(fd);
    EXPECT_EQ(statuses(answer), std::vector<int>{200});
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  }
  // Still trickling when the 2 s request time is up: 408, and closed.
  for (int fd : slow) {
    const std::string answer = read_all(fd, 6000);
    EXPECT_EQ(statuses(answer), std::vector<int>{408}) << answer;
    EXPECT_NE(answer.find("did not arrive whole"), std::string::npos);
  }
  trickling = false;
  trickle.join();
  for (int fd : slow) ::close(fd);
}

TEST_F(LiveServer, TooManyHeaderLinesGet431) {
  const int fd = connect_client();
  std::string request = "GET /api/tags HTTP/1.1\r\n" + host();
  for (int i = 0; i < 150; ++i) request += "X-Header-" + std::to_string(i) + ": 1\r\n";
  request += "\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const std::string answer = read_all(fd, 5000);
  ::close(fd);
  EXPECT_EQ(statuses(answer), std::vector<int>{431}) << answer;
  EXPECT_NE(answer.find("{\"error\":\"the request has more than 100 header lines\"}"), std::string::npos) << answer;
}

TEST_F(LiveServer, ConnectionsPastTheLimitGet503) {
  std::vector<int> open;
  for (int i = 0; i < 24; ++i) open.push_back(connect_client());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the loop accepts them
  const int extra = connect_client();
  const std::string answer = read_all(extra, 3000);
  EXPECT_EQ(statuses(answer), std::vector<int>{503}) << answer;
  ::close(extra);
  for (int fd : open) ::close(fd);
  // Once they are gone, a new client is served.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int fd = connect_client();
  const std::string get = "GET /health HTTP/1.1\r\n" + host() + "Connection: close\r\n\r\n";
  ::send(fd, get.data(), get.size(), 0);
  EXPECT_EQ(statuses(read_all(fd, 5000)), std::vector<int>{200});
  ::close(fd);
}

}  // namespace
}  // namespace hearth::server

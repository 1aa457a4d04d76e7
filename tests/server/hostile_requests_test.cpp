// The hostile-request corpus (fuzz/http_corpus, written by
// fuzz/make_http_corpus.py): every malformed or abusive request goes through
// cpp-httplib's parsing, the pre-routing checks and the routes in-process
// (server/in_memory_http.h), and must get the status its file name gives,
// with an error message, quickly; the server must still answer afterwards and
// its memory stay bounded. Over real sockets, tests/e2e/hostile.test.mjs adds
// what needs a connection (slow and non-reading clients, half-closed and
// pipelined connections).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/fixtures.h"
#include "server/http_server.h"
#include "server/in_memory_http.h"
#include "server/stories_model.h"

namespace hearth::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Server> make_server() {
  std::vector<std::unique_ptr<ServedModel>> models;
  models.push_back(test::load_stories260K());
  ServerOptions options;
  options.port = 8080;
  options.log_requests = false;
  options.max_body_bytes = 1 << 20;
  return std::make_unique<Server>(std::move(models), options);
}

std::vector<int> statuses(const std::string& response) {
  std::vector<int> out;
  for (size_t at = response.find("HTTP/1.1 "); at != std::string::npos; at = response.find("HTTP/1.1 ", at + 1))
    out.push_back(std::atoi(response.c_str() + at + 9));
  return out;
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

size_t rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return size_t(std::stoull(line.substr(6)));
  return 0;
}

TEST(HostileRequests, EveryCaseGetsItsStatusAndAMessage) {
  const fs::path corpus = test::source_dir() / "fuzz/http_corpus";
  ASSERT_TRUE(fs::is_directory(corpus));
  auto server = make_server();
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(corpus)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 60u);
  // Warm up (first allocations), then measure what the corpus costs.
  serve_in_memory(*server, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const size_t rss_before = rss_kib();
  for (const fs::path& file : files) {
    const std::string name = file.stem().string();
    const int expected = std::stoi(name.substr(0, 3));
    const size_t times = name[3] == 'x' ? size_t(name[4] - '0') : 1;
    std::ifstream in(file, std::ios::binary);
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto start = Clock::now();
    const InMemoryExchange exchange = serve_in_memory(*server, input);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::vector<int> got = statuses(exchange.response);
    ASSERT_GE(got.size(), times) << name << ":\n" << exchange.response.substr(0, 400);
    for (size_t i = 0; i < times; ++i) EXPECT_EQ(got[i], expected) << name << ":\n" << exchange.response.substr(0, 600);
    EXPECT_LT(seconds, 5.0) << name;
    if (expected >= 400) {
      // A message a person can act on, and never the JSON library's own text.
      const std::string body = body_of(exchange.response);
      EXPECT_NE(body.find("error"), std::string::npos) << name << ": " << body;
      EXPECT_EQ(body.find("json.exception"), std::string::npos) << name << ": " << body;
      EXPECT_GT(body.size(), 20u) << name;
    }
  }
  // Alive, and the corpus left no lasting memory behind.
  const InMemoryExchange health = serve_in_memory(*server, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(statuses(health.response), std::vector<int>{200});
  EXPECT_LT(rss_kib(), rss_before + 64 * 1024) << "RSS grew from " << rss_before << " KiB";
}

TEST(HostileRequests, AValidRequestStillWorksEndToEndInProcess) {
  auto server = make_server();
  const std::string body = R"({"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":4,"temperature":0})";
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const InMemoryExchange exchange = serve_in_memory(*server, request);
  ASSERT_EQ(statuses(exchange.response), std::vector<int>{200}) << exchange.response;
  EXPECT_NE(exchange.response.find("\"chat.completion\""), std::string::npos);
}

}  // namespace
}  // namespace hearth::server

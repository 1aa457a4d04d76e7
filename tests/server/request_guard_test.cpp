// The checks every request passes before a route sees it (framing, Host,
// Origin, Content-Type, API key), on requests built without a socket. The
// expected statuses are RFC 9110/9112's (400 bad framing, 411 length
// required, 413, 415) and the local-only rules of issue 20.
#include "server/request_guard.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "core/bounded_json.h"

namespace hearth::server {
namespace {

httplib::Request post(std::initializer_list<std::pair<std::string, std::string>> headers) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.version = "HTTP/1.1";
  for (const auto& [k, v] : headers) req.headers.emplace(k, v);
  return req;
}

GuardConfig local() {
  GuardConfig c;
  c.port = 8080;
  return c;
}

TEST(RequestGuard, AWellFormedLocalRequestPasses) {
  const auto req = post({{"Host", "127.0.0.1:8080"}, {"Content-Type", "application/json"}, {"Content-Length", "2"}});
  EXPECT_FALSE(check_request(req, local()).refused());
  const auto charset = post({{"Host", "localhost"}, {"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_FALSE(check_request(charset, local()).refused());
  EXPECT_FALSE(check_request(post({{"Host", "[::1]:8080"}, {"Content-Type", "application/json"}}), local()).refused());
}

TEST(RequestGuard, BadFramingIs400) {
  for (const char* length : {"-1", "18446744073709551616", "1e3", "", "12 34", "0x10", "+5"}) {
    const auto v = check_framing(post({{"Content-Length", length}}), 1 << 20);
    EXPECT_EQ(v.status, 400) << length;
  }
  EXPECT_EQ(check_framing(post({{"Content-Length", "5"}, {"Content-Length", "6"}}), 1 << 20).status, 400);
  EXPECT_EQ(check_framing(post({{"Content-Length", "5"}, {"Content-Length", "5"}}), 1 << 20).status, 400);
  EXPECT_EQ(check_framing(post({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}), 1 << 20).status, 400);
  EXPECT_EQ(check_framing(post({{"Transfer-Encoding", "gzip, chunked"}}), 1 << 20).status, 400);
  EXPECT_EQ(check_framing(post({{"Transfer-Encoding", "identity"}}), 1 << 20).status, 400);
}

TEST(RequestGuard, LimitsThatTheLibraryWouldMissAreEnforcedUpFront) {
  // Far over the limit: refused before a byte of the body is read. A little
  // over it, the library drains the body and answers 413 itself.
  EXPECT_EQ(check_framing(post({{"Content-Length", "1000000000"}}), 1 << 20).status, 413);
  EXPECT_EQ(check_framing(post({{"Content-Length", "2000000"}}), 1 << 20).status, 0);
  // Chunked bodies and compressed bodies are read without a limit by the library.
  EXPECT_EQ(check_framing(post({{"Transfer-Encoding", "chunked"}}), 1 << 20).status, 411);
  EXPECT_EQ(check_framing(post({{"Content-Encoding", "gzip"}}), 1 << 20).status, 415);
  EXPECT_EQ(check_framing(post({{"Content-Encoding", "identity"}}), 1 << 20).status, 0);
}

TEST(RequestGuard, ForeignHostsAreRefused) {
  const auto v = check_request(post({{"Host", "evil.example:8080"}, {"Content-Type", "application/json"}}), local());
  EXPECT_EQ(v.status, 403);
  EXPECT_NE(v.message.find("--allowed-host"), std::string::npos);
  GuardConfig allowed = local();
  allowed.allowed_hosts = {"Box.LAN"};
  EXPECT_FALSE(check_request(post({{"Host", "box.lan:8080"}, {"Content-Type", "application/json"}}), allowed).refused());
  // Bound to every address: IP literals are served, names are not.
  GuardConfig wildcard = local();
  wildcard.bound_host = "0.0.0.0";
  EXPECT_FALSE(check_request(post({{"Host", "192.168.1.20:8080"}, {"Content-Type", "application/json"}}), wildcard).refused());
  EXPECT_EQ(check_request(post({{"Host", "rebind.example"}, {"Content-Type", "application/json"}}), wildcard).status, 403);
  // HTTP/1.1 without Host, or with two.
  EXPECT_EQ(check_request(post({{"Content-Type", "application/json"}}), local()).status, 400);
  EXPECT_EQ(check_request(post({{"Host", "localhost"}, {"Host", "evil"}, {"Content-Type", "application/json"}}), local()).status, 400);
}

TEST(RequestGuard, BrowserSimpleRequestsAreRefused) {
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""}) {
    const auto v = check_request(post({{"Host", "localhost"}, {"Content-Type", type}}), local());
    EXPECT_EQ(v.status, 415) << type;
  }
  EXPECT_FALSE(check_request(post({{"Host", "localhost"}, {"Content-Type", "application/vnd.api+json"}}), local()).refused());
}

TEST(RequestGuard, OriginMustBeThisServerOrCors) {
  const auto from = [](const char* origin) {
    return post({{"Host", "localhost:8080"}, {"Content-Type", "application/json"}, {"Origin", origin}});
  };
  EXPECT_EQ(check_request(from("https://evil.example"), local()).status, 403);
  EXPECT_EQ(check_request(from("null"), local()).status, 403);
  EXPECT_EQ(check_request(from("http://localhost:3000"), local()).status, 403);  // another local app
  EXPECT_FALSE(check_request(from("http://localhost:8080"), local()).refused());
  EXPECT_FALSE(check_request(from("http://127.0.0.1:8080"), local()).refused());
  GuardConfig cors = local();
  cors.cors_origin = "http://localhost:3000";
  EXPECT_FALSE(check_request(from("http://localhost:3000"), cors).refused());
  EXPECT_EQ(check_request(from("http://localhost:3001"), cors).status, 403);
  cors.cors_origin = "*";
  EXPECT_FALSE(check_request(from("https://anything.example"), cors).refused());
}

TEST(RequestGuard, ApiKey) {
  GuardConfig c = local();
  c.api_key = "sekrit";
  const auto with = [](const char* name, const char* value) {
    return post({{"Host", "localhost"}, {"Content-Type", "application/json"}, {name, value}});
  };
  EXPECT_EQ(check_request(post({{"Host", "localhost"}, {"Content-Type", "application/json"}}), c).status, 401);
  EXPECT_EQ(check_request(with("Authorization", "Bearer sekri"), c).status, 401);
  EXPECT_EQ(check_request(with("Authorization", "Bearer sekrit2"), c).status, 401);
  EXPECT_FALSE(check_request(with("Authorization", "Bearer sekrit"), c).refused());
  EXPECT_FALSE(check_request(with("x-api-key", "sekrit"), c).refused());
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(RequestGuard, LoggedPathsCannotForgeLines) {
  EXPECT_EQ(escape_for_log("/v1/models"), "/v1/models");
  EXPECT_EQ(escape_for_log("/x\nGET /admin -> 200"), "/x%0AGET%20/admin%20->%20200");
  EXPECT_EQ(escape_for_log("/\x1b[31m"), "/%1B[31m");
  EXPECT_LE(escape_for_log(std::string(10000, 'a')).size(), 260u);
}

TEST(BoundedJson, DepthIsLimitedWhileParsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto r = parse_bounded_json<nlohmann::json>(deep);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.too_deep);
  const std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(parse_bounded_json<nlohmann::json>(ok).ok);
  std::string nested;
  for (int i = 0; i < 200; ++i) nested += R"({"a":)";
  nested += "1" + std::string(200, '}');
  EXPECT_TRUE(parse_bounded_json<nlohmann::ordered_json>(nested).too_deep);
  const auto bad = parse_bounded_json<nlohmann::json>("{\"a\": tru}");
  EXPECT_FALSE(bad.ok);
  EXPECT_FALSE(bad.too_deep);
  EXPECT_EQ(bad.error.find("json.exception"), std::string::npos) << bad.error;
  EXPECT_EQ(parse_bounded_json<nlohmann::json>(R"({"a": [1, {"b": null}]})").value["a"][1]["b"], nullptr);
}

}  // namespace
}  // namespace hearth::server

// The little HTTP hearth needs for pulls, through libcurl: GET or HEAD with
// headers, and downloads to a file from an offset (HTTP Range). Proxies come
// from the usual environment variables, which libcurl reads itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hearth::store {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool head = false;                 // HEAD instead of GET
  bool follow_redirects = true;
  int64_t range_begin = -1;          // with range_end: "Range: bytes=begin-end" (end -1: to the end)
  int64_t range_end = -1;
  long timeout_s = 0;                // 0: none (downloads); connection and stall limits always apply
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the last response's (after redirects)
  std::string body;
  std::string header(const std::string& name) const;
};

// Progress of a transfer: bytes so far and the total (0 when unknown).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// One request, the body kept in memory. Throws on a transport error (naming
// the URL and libcurl's reason); HTTP errors come back as the status.
HttpResponse http_fetch(const HttpRequest& request);
// One request, the body appended to `out`. Returns the response (its body
// empty); throws on a transport error, e.g. a connection cut mid-file, after
// flushing what arrived.
HttpResponse http_download(const HttpRequest& request, std::FILE* out, const ProgressFn& progress);

}  // namespace hearth::store

#include "store/http.h"

#include <cctype>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "core/error.h"

namespace hearth::store {
namespace {

struct Transfer {
  HttpResponse response;
  std::FILE* out = nullptr;
  const ProgressFn* progress = nullptr;
  bool write_failed = false;
  void* curl = nullptr;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after a redirect)
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    t->response.headers[name] = value;
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  long status = 0;
  curl_easy_getinfo(static_cast<CURL*>(t->curl), CURLINFO_RESPONSE_CODE, &status);
  // Only a successful response's body goes to the file; an error page is kept for the message.
  if (t->out != nullptr && (status == 200 || status == 206)) {
    if (std::fwrite(data, 1, size * n, t->out) != size * n) {
      t->write_failed = true;
      return 0;
    }
  } else {
    t->response.body.append(data, size * n);
  }
  return size * n;
}

int on_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->progress != nullptr && *t->progress) (*t->progress)(uint64_t(done), uint64_t(total));
  return 0;
}

HttpResponse perform(const HttpRequest& r, Transfer& t) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) fail("cannot start libcurl");
  t.curl = curl;
  curl_slist* headers = nullptr;
  for (const std::string& h : r.headers) headers = curl_slist_append(headers, h.c_str());
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "hearth/" HEARTH_VERSION);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_NOBODY, r.head ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 byte/s for a minute) fails and can be resumed.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  if (r.timeout_s > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT, r.timeout_s);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (t.progress != nullptr) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  std::string range;
  if (r.range_begin >= 0) {
    range = r.range_end >= 0 ? fmt::format("{}-{}", r.range_begin, r.range_end) : fmt::format("{}-", r.range_begin);
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.response.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (t.write_failed) fail("writing the download failed (disk full?) while fetching {}", r.url);
  if (code != CURLE_OK)
    fail("{} failed: {}", r.url, error[0] != 0 ? std::string(error) : std::string(curl_easy_strerror(code)));
  return std::move(t.response);
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse http_fetch(const HttpRequest& request) {
  Transfer t;
  return perform(request, t);
}

HttpResponse http_download(const HttpRequest& request, std::FILE* out, const ProgressFn& progress) {
  Transfer t;
  t.out = out;
  t.progress = &progress;
  try {
    HttpResponse r = perform(request, t);
    std::fflush(out);
    return r;
  } catch (...) {
    std::fflush(out);
    throw;
  }
}

}  // namespace hearth::store

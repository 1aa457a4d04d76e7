// A stand-in for the Hugging Face and ModelScope APIs, on 127.0.0.1 at a free
// port, serving files from memory with the shapes the hubs document:
//   GET /api/models/OWNER/REPO/tree/main?recursive=true   the file listing (LFS oid = sha256)
//   GET|HEAD /OWNER/REPO/resolve/main/PATH                302 to /cdn/..., X-Linked-Etag, X-Linked-Size
//   GET /cdn/OWNER/REPO/PATH                              the bytes, with HTTP Range (206)
//   GET /api/v1/models/OWNER/REPO/repo/files              ModelScope's listing (Sha256)
//   GET /api/v1/models/OWNER/REPO/repo?FilePath=PATH      ModelScope's download, with Range
// A missing repository gets 401 with X-Error-Code: RepoNotFound, as the hub
// answers. A file can be cut: its first download stops after N bytes and
// the connection closes.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace hearth::test {

inline std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) hex += {digits[digest[i] >> 4], digits[digest[i] & 15]};
  return hex;
}

class TestHub {
 public:
  struct File {
    std::string content;
    std::string published_sha256;  // what the hub claims (normally the real one)
    int64_t cut_at = -1;           // the next download stops after this many bytes, once
  };

  TestHub() {
    server_.Get(R"(/api/models/([^/]+)/([^/]+)/tree/main)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::string repo = req.matches[1].str() + "/" + req.matches[2].str();
      if (!repos_.count(repo)) return not_found(res);
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [path, f] : repos_[repo])
        list.push_back({{"type", "file"}, {"oid", "0123456789abcdef0123456789abcdef01234567"}, {"size", f.content.size()},
                        {"path", path}, {"lfs", {{"oid", f.published_sha256}, {"size", f.content.size()}, {"pointerSize", 135}}}});
      res.set_content(list.dump(), "application/json");
    });
    server_.Get(R"(/([^/]+)/([^/]+)/resolve/main/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::string repo = req.matches[1].str() + "/" + req.matches[2].str();
      if (!repos_.count(repo)) return not_found(res);
      const auto it = repos_[repo].find(req.matches[3].str());
      if (it == repos_[repo].end()) {
        res.status = 404;
        res.set_header("X-Error-Code", "EntryNotFound");
        return;
      }
      res.set_header("X-Linked-Etag", "\"" + it->second.published_sha256 + "\"");
      res.set_header("X-Linked-Size", std::to_string(it->second.content.size()));
      res.set_header("ETag", "\"0123456789abcdef0123456789abcdef01234567\"");
      res.set_redirect("/cdn/" + repo + "/" + it->first, 302);
    });
    server_.Get(R"(/cdn/([^/]+)/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      serve(req.matches[1].str() + "/" + req.matches[2].str(), req.matches[3].str(), req, res);
    });
    server_.Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo/files)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::string repo = req.matches[1].str() + "/" + req.matches[2].str();
      if (!repos_.count(repo)) {
        res.set_content(R"({"Code":10010205001,"Message":"model not found","Success":false})", "application/json");
        return;
      }
      nlohmann::json files = nlohmann::json::array();
      for (const auto& [path, f] : repos_[repo])
        files.push_back({{"Name", path}, {"Path", path}, {"Size", f.content.size()}, {"Sha256", f.published_sha256}, {"Type", "blob"}});
      res.set_content(nlohmann::json({{"Code", 200}, {"Data", {{"Files", files}}}}).dump(), "application/json");
    });
    server_.Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo)", [this](const httplib::Request& req, httplib::Response& res) {
      serve(req.matches[1].str() + "/" + req.matches[2].str(), req.get_param_value("FilePath"), req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~TestHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add(const std::string& repo, const std::string& path, std::string content) {
    std::lock_guard<std::mutex> lock(mutex_);
    File f;
    f.published_sha256 = sha256_hex(content);
    f.content = std::move(content);
    repos_[repo][path] = std::move(f);
  }
  void set_published_sha256(const std::string& repo, const std::string& path, const std::string& sha) {
    std::lock_guard<std::mutex> lock(mutex_);
    repos_[repo][path].published_sha256 = sha;
  }
  void cut_next_download(const std::string& repo, const std::string& path, int64_t at) {
    std::lock_guard<std::mutex> lock(mutex_);
    repos_[repo][path].cut_at = at;
  }
  // The Range header of every download request ("" when none), in order.
  std::vector<std::string> download_ranges() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ranges_;
  }
  int64_t bytes_served() const { return bytes_served_; }

 private:
  static void not_found(httplib::Response& res) {
    res.status = 401;
    res.set_header("X-Error-Code", "RepoNotFound");
    res.set_header("X-Error-Message", "Repository not found");
    res.set_content(R"({"error":"Repository not found"})", "application/json");
  }

  void serve(const std::string& repo, const std::string& path, const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_.push_back(req.get_header_value("Range"));
    if (!repos_.count(repo) || !repos_[repo].count(path)) {
      res.status = 404;
      return;
    }
    File& f = repos_[repo][path];
    const std::string content = f.content;
    const int64_t cut = f.cut_at;
    f.cut_at = -1;
    // httplib applies the request's Range to what the provider offers.
    res.set_content_provider(content.size(), "application/octet-stream",
                             [this, content, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                               size_t end = offset + length;
                               if (cut >= 0 && end > size_t(cut)) {
                                 if (offset < size_t(cut)) sink.write(content.data() + offset, size_t(cut) - offset);
                                 bytes_served_ += int64_t(size_t(cut) - std::min(offset, size_t(cut)));
                                 return false;  // the connection drops mid-file
                               }
                               sink.write(content.data() + offset, end - offset);
                               bytes_served_ += int64_t(end - offset);
                               return true;
                             });
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, File>> repos_;
  std::vector<std::string> ranges_;
  std::atomic<int64_t> bytes_served_{0};
};

}  // namespace hearth::test

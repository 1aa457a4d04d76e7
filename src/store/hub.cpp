#include "store/hub.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace hearth::store {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == lower(suffix);
}

std::string url_path_escape(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~')
      out += char(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// "x-00001-of-00003.gguf" -> ("x", 1, 3).
const std::regex kSplit(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)", std::regex::icase);

std::string human_size(uint64_t bytes) {
  if (bytes >= (uint64_t(1) << 30)) return fmt::format("{:.2f} GiB", double(bytes) / double(1 << 30));
  if (bytes >= (uint64_t(1) << 20)) return fmt::format("{:.1f} MiB", double(bytes) / double(1 << 20));
  return fmt::format("{:.1f} KiB", double(bytes) / 1024.0);
}

uint64_t model_size(const std::vector<RepoFile>& parts) {
  uint64_t total = 0;
  for (const RepoFile& f : parts) total += f.size;
  return total;
}

std::string describe_models(const std::vector<std::vector<RepoFile>>& models) {
  std::string out;
  for (const auto& parts : models) {
    const std::string tag = quant_tag_of(parts.front().path);
    out += fmt::format("\n  {:<10} {:>11}  {}{}", tag.empty() ? "-" : tag, human_size(model_size(parts)),
                       parts.front().path, parts.size() > 1 ? fmt::format(" (+{} parts)", parts.size() - 1) : "");
  }
  return out.empty() ? " (no GGUF files)" : out;
}

// The name of a model (split suffix and .gguf removed), for tag matching.
std::string model_stem(const std::string& path) {
  std::smatch m;
  if (std::regex_match(path, m, kSplit)) return m[1].str();
  return ends_with_ci(path, ".gguf") ? path.substr(0, path.size() - 5) : path;
}

// The tag appears in the name delimited by -, ., / or the ends ("_" is part
// of a tag: Q4_K does not match Q4_K_M).
bool carries_tag(const std::string& path, const std::string& tag) {
  const std::string stem = lower(model_stem(path)), t = lower(tag);
  for (size_t at = stem.find(t); at != std::string::npos; at = stem.find(t, at + 1)) {
    const bool start_ok = at == 0 || std::string("-./").find(stem[at - 1]) != std::string::npos;
    const size_t end = at + t.size();
    const bool end_ok = end == stem.size() || std::string("-./").find(stem[end]) != std::string::npos;
    if (start_ok && end_ok) return true;
  }
  return false;
}

[[noreturn]] void repo_error(const HubRef& ref, long status, const std::string& detail) {
  if (status == 401 || status == 404)
    fail("{}: repository not found{} (check the name; a private or gated repo needs HF_TOKEN)", ref.display(),
         detail.empty() ? "" : " (" + detail + ")");
  fail("{}: the hub answered HTTP {}{}", ref.display(), status, detail.empty() ? "" : ": " + detail);
}

}  // namespace

std::string HubRef::display() const { return (hub == "ms" ? "ms:" : "hf.co/") + repo_id(); }

std::string HubRef::name() const {
  if (!file.empty()) return display() + "/" + file;
  return tag.empty() ? display() : display() + ":" + tag;
}

std::optional<HubRef> parse_ref(const std::string& text) {
  HubRef ref;
  std::string rest;
  for (const char* prefix : {"hf.co/", "huggingface.co/", "https://huggingface.co/", "https://hf.co/"}) {
    if (text.rfind(prefix, 0) == 0) {
      ref.hub = "hf";
      rest = text.substr(std::string(prefix).size());
      break;
    }
  }
  if (ref.hub.empty() && text.rfind("ms:", 0) == 0) {
    ref.hub = "ms";
    rest = text.substr(3);
  }
  if (ref.hub.empty()) return std::nullopt;
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0)
    fail("'{}' is not a pull reference: use hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf or "
         "ms:OWNER/REPO[:QUANT]",
         text);
  ref.owner = rest.substr(0, slash);
  std::string tail = rest.substr(slash + 1);
  const auto file_slash = tail.find('/');
  if (file_slash != std::string::npos) {
    ref.repo = tail.substr(0, file_slash);
    ref.file = tail.substr(file_slash + 1);
    if (!ends_with_ci(ref.file, ".gguf")) fail("'{}': the file '{}' is not a .gguf file", text, ref.file);
  } else {
    const auto colon = tail.find(':');
    ref.repo = tail.substr(0, colon);
    if (colon != std::string::npos) ref.tag = tail.substr(colon + 1);
    if (colon != std::string::npos && ref.tag.empty()) fail("'{}': the quant tag after ':' is empty", text);
  }
  if (ref.repo.empty()) fail("'{}': the repository name is missing (OWNER/REPO)", text);
  return ref;
}

std::string file_url(const HubRef& ref, const std::string& path, const HubConfig& c) {
  if (ref.hub == "ms")
    return fmt::format("{}/api/v1/models/{}/repo?Revision=master&FilePath={}", trim_slash(c.ms_endpoint),
                       url_path_escape(ref.repo_id()), url_path_escape(path));
  return fmt::format("{}/{}/resolve/main/{}", trim_slash(c.hf_endpoint), url_path_escape(ref.repo_id()),
                     url_path_escape(path));
}

std::vector<std::string> auth_headers(const HubRef& ref, const HubConfig& c) {
  if (ref.hub == "hf" && !c.hf_token.empty()) return {"Authorization: Bearer " + c.hf_token};
  return {};
}

std::vector<RepoFile> list_repo(const HubRef& ref, const HubConfig& c) {
  HttpRequest req;
  req.headers = auth_headers(ref, c);
  req.timeout_s = 60;
  std::vector<RepoFile> files;
  if (ref.hub == "ms") {
    req.url = fmt::format("{}/api/v1/models/{}/repo/files?Revision=master&Recursive=true", trim_slash(c.ms_endpoint),
                          url_path_escape(ref.repo_id()));
    const HttpResponse r = http_fetch(req);
    if (r.status != 200) repo_error(ref, r.status == 400 ? 404 : r.status, "");
    try {
      const auto j = nlohmann::json::parse(r.body);
      if (j.contains("Code") && j["Code"].is_number() && j["Code"].get<int>() != 200) repo_error(ref, 404, j.value("Message", ""));
      for (const auto& f : j.at("Data").at("Files"))
        if (f.value("Type", "blob") == "blob")
          files.push_back({f.at("Path").get<std::string>(), f.value("Size", uint64_t(0)), lower(f.value("Sha256", ""))});
    } catch (const nlohmann::json::exception& e) {
      fail("{}: the file listing is not what ModelScope sends ({})", ref.display(), e.what());
    }
    return files;
  }
  req.url = fmt::format("{}/api/models/{}/tree/main?recursive=true", trim_slash(c.hf_endpoint),
                        url_path_escape(ref.repo_id()));
  const HttpResponse r = http_fetch(req);
  if (r.status != 200) repo_error(ref, r.status, r.header("x-error-message"));
  try {
    for (const auto& f : nlohmann::json::parse(r.body)) {
      if (f.value("type", "file") != "file") continue;
      RepoFile file{f.at("path").get<std::string>(), f.value("size", uint64_t(0)), ""};
      if (f.contains("lfs") && f["lfs"].is_object()) {
        file.sha256 = lower(f["lfs"].value("oid", ""));
        file.size = f["lfs"].value("size", file.size);
      }
      files.push_back(file);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the file listing is not what the Hugging Face API sends ({})", ref.display(), e.what());
  }
  return files;
}

std::string quant_tag_of(const std::string& path) {
  static const std::regex tag(R"((?:^|[-._/])((?:UD-)?(?:I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32|FP16|FP32))(?=$|[-./]))",
                              std::regex::icase);
  const std::string stem = model_stem(fs::path(path).filename().string());
  std::smatch m;
  std::string found;
  for (auto it = stem.cbegin(); std::regex_search(it, stem.cend(), m, tag); it = m[1].second) found = m[1].str();
  std::string upper = found;
  for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return upper;
}

std::vector<std::vector<RepoFile>> gguf_models(const std::vector<RepoFile>& files) {
  std::map<std::string, std::vector<std::pair<int, RepoFile>>> groups;
  std::vector<std::string> order;
  for (const RepoFile& f : files) {
    if (!ends_with_ci(f.path, ".gguf")) continue;
    if (lower(fs::path(f.path).filename().string()).find("mmproj") != std::string::npos) continue;
    std::smatch m;
    std::string key = f.path;
    int index = 0;
    if (std::regex_match(f.path, m, kSplit)) {
      key = m[1].str() + "#split";
      index = std::stoi(m[2].str());
    }
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back({index, f});
  }
  std::vector<std::vector<RepoFile>> out;
  std::sort(order.begin(), order.end());
  for (const std::string& key : order) {
    auto& parts = groups[key];
    std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<RepoFile> model;
    for (auto& [index, f] : parts) model.push_back(f);
    out.push_back(std::move(model));
  }
  return out;
}

std::vector<RepoFile> choose_model(const HubRef& ref, const std::vector<RepoFile>& files) {
  const auto models = gguf_models(files);
  if (!ref.file.empty()) {
    for (const auto& parts : models)
      for (const RepoFile& f : parts)
        if (f.path == ref.file) {
          // Naming one part of a split model pulls the whole model.
          return std::regex_match(f.path, kSplit) ? parts : std::vector<RepoFile>{f};
        }
    fail("{} has no file '{}'; its models:{}", ref.display(), ref.file, describe_models(models));
  }
  if (models.empty()) fail("{} has no GGUF model files", ref.display());
  std::string tag = ref.tag;
  if (tag.empty()) {
    if (models.size() == 1) return models.front();
    tag = "Q4_K_M";  // Ollama's default for hf.co references
  }
  std::vector<std::vector<RepoFile>> matches;
  for (const auto& parts : models)
    if (carries_tag(parts.front().path, tag)) matches.push_back(parts);
  if (matches.size() == 1) return matches.front();
  if (matches.empty())
    fail("{} has no model with the quant tag '{}'{}; it has:{}", ref.display(), tag,
         ref.tag.empty() ? " (the default when none is given)" : "", describe_models(models));
  fail("the quant tag '{}' is ambiguous in {}: it matches{}\nname the file instead: {}/FILE.gguf", tag,
       ref.display(), describe_models(matches), ref.display());
}

int quant_bits_of(const std::string& path) {
  static const std::regex split_suffix(R"(^(.+)-([0-9]{5})-of-([0-9]{5})$)", std::regex::icase);
  static const std::regex tag(R"([-.]([A-Z0-9_]+)$)", std::regex::icase);
  if (!path.ends_with(".gguf")) return 0;
  std::string prefix = path.substr(0, path.size() - 5);
  std::smatch m;
  if (std::regex_match(prefix, m, split_suffix)) prefix = m[1].str();
  if (!std::regex_search(prefix, m, tag)) return 0;
  const std::string t = m[1].str();
  const auto digit = t.find_first_of("0123456789");
  if (digit == std::string::npos) return 0;
  size_t end = digit;
  while (end < t.size() && end - digit < 9 && std::isdigit(static_cast<unsigned char>(t[end]))) ++end;
  return std::stoi(t.substr(digit, end - digit));
}

std::optional<RepoFile> choose_mmproj(const std::string& model_path, const std::vector<RepoFile>& files) {
  const auto folders = [](const std::string& path) {  // the folder names, without the file name
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', start)) {
      parts.push_back(path.substr(start, slash - start));
      start = slash + 1;
    }
    return parts;
  };
  const std::vector<std::string> model_dirs = folders(model_path);
  const int model_bits = quant_bits_of(model_path);
  std::optional<RepoFile> best;
  size_t best_depth = 0;
  int best_diff = 0;
  for (const RepoFile& f : files) {
    if (!f.path.ends_with(".gguf") || f.path.find("mmproj") == std::string::npos) continue;
    const std::vector<std::string> dirs = folders(f.path);
    // Its folder must be the model's or one above it.
    if (dirs.size() > model_dirs.size() || !std::equal(dirs.begin(), dirs.end(), model_dirs.begin())) continue;
    const int diff = std::abs(quant_bits_of(f.path) - model_bits);
    if (!best || dirs.size() > best_depth || (dirs.size() == best_depth && diff < best_diff)) {
      best = f;
      best_depth = dirs.size();
      best_diff = diff;
    }
  }
  return best;
}

std::string expected_sha256(const HubRef& ref, const RepoFile& file, const HubConfig& c) {
  if (ref.hub == "hf") {
    HttpRequest req;
    req.url = file_url(ref, file.path, c);
    req.headers = auth_headers(ref, c);
    req.head = true;
    req.follow_redirects = false;
    req.timeout_s = 60;
    const HttpResponse r = http_fetch(req);
    if (r.status >= 400) repo_error(ref, r.status, fmt::format("file '{}'", file.path));
    std::string etag = r.header("x-linked-etag");
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
    if (etag.size() == 64) return lower(etag);
  }
  return file.sha256.size() == 64 ? file.sha256 : std::string();
}

void download_file(const std::string& url, const std::vector<std::string>& headers, const std::string& dest,
                   uint64_t size, const std::string& sha256, const ProgressFn& progress) {
  const std::string partial = dest + ".partial";
  fs::create_directories(fs::path(dest).parent_path());
  std::error_code ec;
  uint64_t have = fs::exists(partial, ec) ? fs::file_size(partial) : 0;
  if (size > 0 && have > size) {
    fs::remove(partial);
    have = 0;
  }
  HttpResponse r;
  if (size == 0 || have < size) {
    HttpRequest req;
    req.url = url;
    req.headers = headers;
    if (have > 0) req.range_begin = int64_t(have);
    std::FILE* out = std::fopen(partial.c_str(), "ab");
    if (out == nullptr) fail("cannot write '{}'", partial);
    const ProgressFn offset_progress = [&](uint64_t done, uint64_t total) {
      if (progress) progress(have + done, total > 0 ? have + total : size);
    };
    try {
      r = http_download(req, out, offset_progress);
    } catch (const Error& e) {
      std::fclose(out);
      const uint64_t now = fs::exists(partial, ec) ? fs::file_size(partial) : 0;
      fail("{}\nthe download stopped at {} of {} bytes; run the same pull again to resume", e.what(), now, size);
    }
    std::fclose(out);
    if (r.status == 200 && have > 0) {
      // The server ignored the Range: what arrived is the whole file, after the old bytes.
      fs::remove(partial);
      return download_file(url, headers, dest, size, sha256, progress);
    }
    if (r.status != 200 && r.status != 206) {
      fail("downloading {} failed: HTTP {}{}", url, r.status, r.body.empty() ? "" : ": " + r.body.substr(0, 200));
    }
  }
  const uint64_t got = fs::file_size(partial);
  if (size > 0 && got != size) {
    fail("the download of {} ended at {} bytes but the hub lists {}; run the same pull again to resume", url, got,
         size);
  }
  if (!sha256.empty()) {
    const std::string actual = sha256_file(partial);
    if (actual != sha256) {
      fs::remove(partial);
      fail("sha256 mismatch for {}: the hub publishes {} but the download hashes to {}; the file was not kept",
           fs::path(dest).filename().string(), sha256, actual);
    }
  }
  fs::rename(partial, dest);
}

Manifest pull(const HubRef& ref, const HubConfig& config, const Store& store, const PullEvents& events,
              const std::string& name) {
  const std::vector<RepoFile> listing = list_repo(ref, config);
  const std::vector<RepoFile> parts = choose_model(ref, listing);
  Manifest m;
  m.name = name.empty() ? ref.name() : name;
  m.source = ref.name();
  m.owned = true;
  const fs::path dir = store.models_dir() / (ref.hub == "ms" ? "modelscope" : "hf.co") / ref.owner / ref.repo;
  std::vector<RepoFile> wanted = parts;
  const std::optional<RepoFile> mmproj = choose_mmproj(parts.front().path, listing);
  if (mmproj) wanted.push_back(*mmproj);
  for (size_t i = 0; i < wanted.size(); ++i) {
    const RepoFile& f = wanted[i];
    if (events.on_file) events.on_file(f, int(i), int(wanted.size()));
    const std::string sha = expected_sha256(ref, f, config);
    const fs::path dest = dir / f.path;
    std::error_code ec;
    const bool present = fs::exists(dest, ec) && (f.size == 0 || fs::file_size(dest) == f.size) &&
                         (sha.empty() || sha256_file(dest) == sha);
    if (!present) download_file(file_url(ref, f.path, config), auth_headers(ref, config), dest.string(), f.size, sha,
                                events.on_progress);
    const StoredFile stored{dest.string(), sha, uint64_t(fs::file_size(dest))};
    if (i < parts.size()) m.files.push_back(stored);
    else m.mmproj = stored;
  }
  m.created = utc_now();
  store.save(m);
  return m;
}

std::string fetch_range(const std::string& url, const std::vector<std::string>& headers, uint64_t begin,
                        uint64_t length, uint64_t* total_size) {
  HttpRequest req;
  req.url = url;
  req.headers = headers;
  req.range_begin = int64_t(begin);
  req.range_end = int64_t(begin + length - 1);
  req.timeout_s = 120;
  const HttpResponse r = http_fetch(req);
  if (r.status == 206) {
    // Content-Range: bytes 0-99/12345
    const std::string cr = r.header("content-range");
    const auto slash = cr.rfind('/');
    if (total_size != nullptr && slash != std::string::npos && cr.substr(slash + 1) != "*")
      *total_size = std::stoull(cr.substr(slash + 1));
    return r.body;
  }
  if (r.status == 416) {  // asked past the end: the file is shorter
    const std::string cr = r.header("content-range");
    const auto slash = cr.rfind('/');
    if (total_size != nullptr && slash != std::string::npos) *total_size = std::stoull(cr.substr(slash + 1));
    return {};
  }
  if (r.status == 200) {
    fail("{} does not support HTTP Range requests; hearth would have to download the whole file to read its header",
         url);
  }
  fail("reading the header of {} failed: HTTP {}", url, r.status);
}

}  // namespace hearth::store

#include "store/store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/read_file.h"

namespace hearth::store {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A file name for a store name: lowercase (names match case-insensitively),
// bytes outside [a-z0-9._-] as %XX.
std::string escape_name(const std::string& name) {
  std::string out;
  for (unsigned char c : lower(name)) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-')
      out += char(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json files = nlohmann::json::array();
  for (const StoredFile& f : m.files) files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  nlohmann::json j = {{"name", m.name}, {"kind", m.kind},   {"source", m.source},
                      {"files", files}, {"owned", m.owned}, {"created", m.created}};
  if (m.mmproj) j["mmproj"] = {{"path", m.mmproj->path}, {"sha256", m.mmproj->sha256}, {"size", m.mmproj->size}};
  if (m.kind == "preset") j["preset"] = preset_to_json(m.preset);
  return j;
}

Manifest from_json(const nlohmann::json& j) {
  Manifest m;
  m.name = j.at("name").get<std::string>();
  m.kind = j.value("kind", "model");
  m.source = j.value("source", "");
  m.owned = j.value("owned", true);
  m.created = j.value("created", "");
  for (const auto& f : j.value("files", nlohmann::json::array()))
    m.files.push_back({f.at("path").get<std::string>(), f.value("sha256", ""), f.value("size", uint64_t(0))});
  if (j.contains("mmproj") && j["mmproj"].is_object()) {
    const auto& f = j["mmproj"];
    m.mmproj = StoredFile{f.at("path").get<std::string>(), f.value("sha256", ""), f.value("size", uint64_t(0))};
  }
  if (j.contains("preset")) m.preset = preset_from_json(j.at("preset"));
  return m;
}

}  // namespace

uint64_t Manifest::total_size() const {
  uint64_t total = 0;
  for (const StoredFile& f : files) total += f.size;
  if (mmproj) total += mmproj->size;
  return total;
}

Store::Store(fs::path home) : home_(std::move(home)) {}

fs::path Store::manifest_path(const std::string& name) const {
  return home_ / "manifests" / (escape_name(name) + ".json");
}

std::vector<Manifest> Store::list() const {
  std::vector<Manifest> out;
  std::error_code ec;
  const fs::path dir = home_ / "manifests";
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    try {
      out.push_back(from_json(nlohmann::json::parse(read_file(entry.path().string(), "manifest"))));
    } catch (const std::exception& e) {
      fail("the store manifest '{}' is damaged ({}); remove it or pull the model again", entry.path().string(),
           e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) { return lower(a.name) < lower(b.name); });
  return out;
}

std::optional<Manifest> Store::find(const std::string& name) const {
  const fs::path path = manifest_path(name);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    return from_json(nlohmann::json::parse(read_file(path.string(), "manifest")));
  } catch (const nlohmann::json::exception& e) {
    fail("the store manifest '{}' is damaged ({}); remove it or pull the model again", path.string(), e.what());
  }
}

void Store::save(const Manifest& m) const {
  if (m.name.empty()) fail("a store entry needs a name");
  const fs::path path = manifest_path(m.name);
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << to_json(m).dump(2) << "\n";
    if (!out) fail("cannot write the manifest '{}'", tmp.string());
  }
  fs::rename(tmp, path);
}

std::string Store::names() const {
  std::string out;
  for (const Manifest& m : list()) out += (out.empty() ? "" : ", ") + m.name;
  return out.empty() ? "(none)" : out;
}

void Store::remove(const std::string& name) const {
  const auto m = find(name);
  if (!m) fail("'{}' is not in the store (it has: {})", name, names());
  std::set<std::string> still_used;
  for (const Manifest& other : list())
    if (lower(other.name) != lower(m->name))
      for (const StoredFile& f : other.files) still_used.insert(f.path);
  for (const Manifest& other : list())
    if (lower(other.name) != lower(m->name) && other.mmproj) still_used.insert(other.mmproj->path);
  if (m->owned) {
    std::vector<StoredFile> owned_files = m->files;
    if (m->mmproj) owned_files.push_back(*m->mmproj);
    for (const StoredFile& f : owned_files) {
      if (still_used.count(f.path)) continue;
      std::error_code ec;
      fs::remove(f.path, ec);
      // Drop the folders the pull made when they are left empty.
      for (fs::path dir = fs::path(f.path).parent_path(); dir != models_dir() && dir.string().size() > models_dir().string().size();
           dir = dir.parent_path())
        if (!fs::remove(dir, ec)) break;
    }
  }
  fs::remove(manifest_path(m->name));
}

Manifest Store::resolve_model(const std::string& name) const {
  std::optional<Manifest> m = find(name);
  if (!m) fail("'{}' is not in the store (it has: {})", name, names());
  for (int depth = 0; m->kind == "preset"; ++depth) {
    if (depth > 8) fail("preset '{}' names presets in a loop", name);
    const std::string base = m->preset.model;
    auto next = find(base);
    if (!next) {
      // A preset's base may be a file path rather than a store name.
      std::error_code ec;
      if (fs::exists(base, ec)) {
        Manifest file_model;
        file_model.name = base;
        file_model.files.push_back({fs::absolute(base).string(), "", uint64_t(fs::file_size(base))});
        return file_model;
      }
      fail("preset '{}' is based on '{}', which is not in the store (pull it first)", m->name, base);
    }
    m = std::move(next);
  }
  if (m->files.empty()) fail("store entry '{}' lists no files", m->name);
  return *m;
}

std::string utc_now() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

std::string sha256_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '{}' to check its sha256", path.string());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buffer.data(), size_t(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace hearth::store

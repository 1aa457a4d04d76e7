// The model store: models and presets by name under one folder (the CLI and
// server pass it in; by default $HEARTH_HOME or ~/.local/share/hearth). Each
// entry is a JSON manifest in manifests/; pulled files live in models/, and
// imported ones stay where they are.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/preset.h"

namespace hearth::store {

struct StoredFile {
  std::string path;    // absolute, on this machine
  std::string sha256;  // lowercase hex; empty when the source published none
  uint64_t size = 0;
};

struct Manifest {
  std::string name;              // what the user types: "hf.co/owner/repo:Q4_K_M", "mymodel"
  std::string kind = "model";    // "model" or "preset"
  std::string source;            // the pull reference, "import:/path/file.gguf" or the preset file
  std::vector<StoredFile> files; // a model's GGUF parts, first part first
  // The multimodal projector paired with the model (pulled from its repo, or
  // given to import): `run --image` and `serve` use it without --mmproj.
  std::optional<StoredFile> mmproj;
  bool owned = true;             // the files are the store's (deleted with it); false for imports
  std::string created;           // ISO 8601 UTC, when pulled, imported or created
  Preset preset;                 // kind == "preset": its settings (base names another entry)

  uint64_t total_size() const;  // the model's files and its projector
};

class Store {
 public:
  explicit Store(std::filesystem::path home);

  const std::filesystem::path& home() const { return home_; }
  std::filesystem::path models_dir() const { return home_ / "models"; }

  // Every entry, sorted by name.
  std::vector<Manifest> list() const;
  // The entry of that name (case-insensitive), if any.
  std::optional<Manifest> find(const std::string& name) const;
  // Writes (or replaces) an entry, atomically.
  void save(const Manifest& manifest) const;
  // Removes an entry and the files it owns (not an import's files; not files
  // another entry still lists). Throws, listing the names, when it is missing.
  void remove(const std::string& name) const;
  // A model entry's first file, following presets to their base model.
  // Throws naming the entry when it (or its base) is missing.
  Manifest resolve_model(const std::string& name) const;
  // "name1, name2, ..." for error messages ("(none)" when empty).
  std::string names() const;

 private:
  std::filesystem::path manifest_path(const std::string& name) const;
  std::filesystem::path home_;
};

// The current time as ISO 8601 UTC ("2026-01-15T10:30:00Z").
std::string utc_now();
// Lowercase hex sha256 of a file (OpenSSL), reading it in chunks.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace hearth::store

// Reading GGUF files (versions 2 and 3, little-endian), memory-mapped, with
// every read checked. Split models (name-00001-of-00003.gguf) open as one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "gguf/value.h"

namespace hearth::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  uint32_t n_dims = 0;
  std::array<uint64_t, kMaxDims> ne = {1, 1, 1, 1};  // ggml order: ne[0] is the row length
  uint64_t offset = 0;     // from the start of its file's data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint32_t file_index = 0;  // which split file holds it
  const uint8_t* data = nullptr;

  std::span<const uint8_t> bytes() const { return {data, n_bytes}; }
  std::vector<uint64_t> shape() const { return {ne.begin(), ne.begin() + n_dims}; }
};

// Ordered key/value metadata with lookup by key.
class Metadata {
 public:
  void set(std::string key, Value value);
  const Value* find(std::string_view key) const;
  const Value& at(std::string_view key) const;  // throws naming the missing key
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Typed getters; throw with the key's name when absent or of the wrong type.
  int64_t get_int(std::string_view key) const { return at(key).as_int(key); }
  uint64_t get_uint(std::string_view key) const { return at(key).as_uint(key); }
  double get_number(std::string_view key) const { return at(key).as_number(key); }
  const std::string& get_string(std::string_view key) const { return at(key).as_string(key); }
  bool get_bool(std::string_view key) const { return at(key).as_bool(key); }
  // The same, with a fallback when absent (still throws on a wrong type).
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_number_or(std::string_view key, double fallback) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

class File {
 public:
  // Opens and validates a GGUF file by memory-mapping it. A file named like
  // "x-00001-of-00003.gguf", or carrying split.count > 1, brings its other
  // parts along; their tensors join this one's.
  static File open(const std::string& path);
  // Parses bytes already in memory (not copied: they must outlive the File).
  // `source` names them in errors.
  static File parse(std::span<const uint8_t> bytes, std::string source = "<memory>");

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // of the first file
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming it
  size_t n_files() const { return files_.size() > 0 ? files_.size() : 1; }
  const std::string& path() const { return path_; }
  uint64_t n_params() const;
  // MappedFile::drop_pages on whichever mapped part holds [p, p + n); does
  // nothing for a File parsed from memory.
  void drop_pages(const void* p, size_t n) const;
  // The same on every mapped part, whole.
  void drop_all_pages() const;
  // The mapped part that holds [p, p + n), or null (a File parsed from memory).
  const MappedFile* mapping_of(const void* p, size_t n) const;

 private:
  void append(File&& part);

  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::string path_;
};

// "x-00001-of-00003.gguf" -> {"x", 1, 3}; nullopt for other names.
struct SplitName {
  std::string prefix;
  uint32_t index;
  uint32_t count;
};
std::optional<SplitName> parse_split_name(const std::string& path);
std::string split_path(const std::string& prefix, uint32_t index, uint32_t count);

}  // namespace hearth::gguf

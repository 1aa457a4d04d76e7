// A read-only memory mapping of a whole file. Model weights are used in place
// from the mapping; nothing is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hearth {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path`; throws Error naming the path and the OS reason on failure.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  // Tells the OS that [p, p + n), where it lies in this mapping, is not
  // needed for now: its whole pages are dropped from memory and read from the
  // file again if touched (the mapping is private and read-only, so nothing is
  // lost). For weights a backend has copied into a layout of its own.
  void drop_pages(const void* p, size_t n) const;
  // Whether [p, p + n) lies in this mapping.
  bool holds(const void* p, size_t n) const;
  // Copies [p, p + n) of this mapping to dst with pread, so the file's pages
  // are never mapped into the process: a table read a few rows at a time
  // (the token embedding) would otherwise keep every row it touched resident
  // with the neighbours the page cache maps along (fault-around, large
  // folios), a resident set no plan can predict. Throws naming the file on a
  // short read.
  void read(const void* p, size_t n, void* dst) const;
  const std::string& path() const { return path_; }

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // kept open for read()
  std::string path_;
};

}  // namespace hearth

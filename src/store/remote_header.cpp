#include "store/remote_header.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "gguf/gguf.h"
#include "store/hub.h"

namespace hearth::store {

uint64_t fetch_gguf_header(const std::string& url, const std::vector<std::string>& headers, uint64_t file_size,
                           const std::string& dest) {
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path());
  std::string bytes;
  // 256 KiB first (a small vocabulary), then 1, 4, 16 MiB... (a 262K-token one is ~5 MiB).
  uint64_t want = uint64_t(256) << 10;
  for (;;) {
    if (bytes.size() < want && (file_size == 0 || bytes.size() < file_size)) {
      uint64_t total = 0;
      const uint64_t length = file_size > 0 ? std::min(want, file_size) - bytes.size() : want - bytes.size();
      bytes += fetch_range(url, headers, bytes.size(), length, &total);
      if (file_size == 0) file_size = total;
    }
    {
      std::FILE* out = std::fopen(dest.c_str(), "wb");
      if (out == nullptr) fail("cannot write '{}'", dest);
      const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
      std::fclose(out);
      if (!ok) fail("cannot write '{}'", dest);
      std::filesystem::resize_file(dest, std::max<uint64_t>(file_size, bytes.size()));
    }
    // The header is whole when it parses and ends inside the bytes fetched;
    // a cut header reads zeros past the cut, which never parse as tensor infos.
    try {
      const MappedFile mapping(dest);
      const gguf::File f = gguf::File::parse(mapping.bytes(), url);
      if (f.data_offset() <= bytes.size() || bytes.size() >= file_size) return f.data_offset();
    } catch (const Error& e) {
      if (bytes.size() >= file_size) fail("{} is not a usable GGUF file: {}", url, e.what());
    }
    if (want >= (uint64_t(1) << 30)) fail("{}: the GGUF header is over 1 GiB; refusing to read further", url);
    want *= 4;
  }
}

}  // namespace hearth::store

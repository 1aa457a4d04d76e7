// Reading a remote GGUF's header without its weights: Range requests for the
// first bytes (more until the header is whole), written into a sparse local
// file of the real size whose data section is a hole. Opened as a GGUF, it
// gives every key and tensor (name, type, shape, offset, size) for planning;
// the weights read as zeros and must not be used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::store {

// Writes the sparse copy to `dest` and returns the header's size in bytes.
uint64_t fetch_gguf_header(const std::string& url, const std::vector<std::string>& headers, uint64_t file_size,
                           const std::string& dest);

}  // namespace hearth::store

// Writing GGUF version 3 files: metadata in insertion order, tensor infos,
// then the aligned data section. Used by quantize, synth and the tests.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf.h"
#include "gguf/value.h"

namespace hearth::gguf {

class Writer {
 public:
  explicit Writer(uint64_t alignment = kDefaultAlignment);

  // Sets a key (replacing an earlier value); general.alignment is written
  // when the alignment is not the default.
  void set(std::string key, Value value);
  // Adds a tensor; `data` is copied and must hold exactly the bytes the
  // type and shape need. `shape` is in ggml order (ne[0] first).
  void add_tensor(std::string name, DType type, std::vector<uint64_t> shape, std::span<const uint8_t> data);
  // Adds a tensor whose bytes are owned elsewhere and outlive the Writer.
  void add_tensor_view(std::string name, DType type, std::vector<uint64_t> shape, std::span<const uint8_t> data);

  // Declares a tensor whose bytes are produced while writing, by the fill
  // callback of write(path, fill): for models too big to hold in memory.
  void add_tensor_deferred(std::string name, DType type, std::vector<uint64_t> shape);
  size_t tensor_count() const { return tensors_.size(); }

  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws naming the path on I/O failure
  // fill(i, bytes) writes deferred tensor i's bytes (i counts all tensors in
  // the order added; bytes has exactly its size). Called in order, once each.
  using FillFn = std::function<void(size_t tensor_index, std::span<uint8_t> bytes)>;
  void write(const std::string& path, const FillFn& fill) const;

 private:
  struct Pending {
    std::string name;
    DType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> owned;
    std::span<const uint8_t> data;
    uint64_t n_bytes = 0;
    bool deferred = false;
  };
  template <typename Sink>
  void emit(Sink& sink, const FillFn* fill) const;
  // Checks a tensor about to be added (dimensions, block size, unique name)
  // and returns the bytes its type and shape need.
  uint64_t check_new_tensor(const std::string& name, DType type, const std::vector<uint64_t>& shape) const;

  uint64_t alignment_;
  Metadata metadata_;
  std::vector<Pending> tensors_;
};

}  // namespace hearth::gguf

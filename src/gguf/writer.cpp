#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace hearth::gguf {
namespace {

class ByteSink {
 public:
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  uint64_t written() const { return out.size(); }
  std::vector<uint8_t> out;
};

class FileSink {
 public:
  explicit FileSink(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (!file_) fail("cannot create '{}': {}", path, std::strerror(errno));
  }
  ~FileSink() {
    if (file_) std::fclose(file_);
  }
  void put(const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, file_) != n) fail("cannot write '{}': {}", path_, std::strerror(errno));
    written_ += n;
  }
  void close() {
    FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail("cannot finish writing '{}': {}", path_, std::strerror(errno));
  }
  uint64_t written() const { return written_; }

 private:
  std::string path_;
  FILE* file_;
  uint64_t written_ = 0;
};

template <typename Sink, typename T>
void put(Sink& sink, T v) {
  sink.put(&v, sizeof(T));
}

template <typename Sink>
void put_string(Sink& sink, const std::string& s) {
  put<Sink, uint64_t>(sink, s.size());
  sink.put(s.data(), s.size());
}

template <typename Sink>
void put_value(Sink& sink, const Value& value);

template <typename Sink>
void put_array_body(Sink& sink, const Value& value) {
  put<Sink, uint32_t>(sink, static_cast<uint32_t>(value.elem_type()));
  put<Sink, uint64_t>(sink, value.size());
  if (value.elem_type() == ValueType::String) {
    for (const auto& s : value.strings("array")) put_string(sink, s);
  } else if (value.elem_type() == ValueType::Array) {
    for (const auto& a : value.arrays()) put_array_body(sink, a);
  } else {
    sink.put(value.packed().data(), value.packed().size());
  }
}

template <typename Sink>
void put_value(Sink& sink, const Value& value) {
  switch (value.type()) {
    case ValueType::String: put_string(sink, value.as_string("value")); break;
    case ValueType::Array: put_array_body(sink, value); break;
    case ValueType::F32: put<Sink, float>(sink, static_cast<float>(value.as_number("value"))); break;
    case ValueType::F64: put<Sink, double>(sink, value.as_number("value")); break;
    case ValueType::Bool: put<Sink, uint8_t>(sink, value.as_bool("value") ? 1 : 0); break;
    case ValueType::U64: put<Sink, uint64_t>(sink, value.as_uint("value")); break;
    default: {
      const int64_t v = value.as_int("value");
      sink.put(&v, scalar_size(value.type()));  // little-endian: the low bytes
    }
  }
}

template <typename Sink>
void pad_to(Sink& sink, uint64_t alignment) {
  static const uint8_t zeros[256] = {};
  uint64_t pad = (alignment - sink.written() % alignment) % alignment;
  while (pad > 0) {
    const uint64_t n = std::min<uint64_t>(pad, sizeof(zeros));
    sink.put(zeros, n);
    pad -= n;
  }
}

}  // namespace

Writer::Writer(uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) fail("alignment {} is not a power of two", alignment);
  if (alignment != kDefaultAlignment) metadata_.set("general.alignment", Value::u32(uint32_t(alignment)));
}

void Writer::set(std::string key, Value value) {
  if (key == "general.alignment") fail("set the alignment through the Writer constructor");
  metadata_.set(std::move(key), std::move(value));
}

uint64_t Writer::check_new_tensor(const std::string& name, DType type, const std::vector<uint64_t>& shape) const {
  if (shape.empty() || shape.size() > kMaxDims) fail("tensor '{}': {} dimensions (must be 1 to 4)", name, shape.size());
  const DTypeInfo& info = dtype_info(type);
  if (shape[0] % info.block_size != 0)
    fail("tensor '{}': row length {} is not a multiple of the {} block size {}", name, shape[0], info.name,
         info.block_size);
  for (const auto& t : tensors_)
    if (t.name == name) fail("tensor '{}' is added twice", name);
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n / info.block_size * info.type_size;
}

void Writer::add_tensor_view(std::string name, DType type, std::vector<uint64_t> shape,
                             std::span<const uint8_t> data) {
  const uint64_t bytes = check_new_tensor(name, type, shape);
  if (data.size() != bytes) fail("tensor '{}': {} bytes given, its type and shape need {}", name, data.size(), bytes);
  tensors_.push_back(Pending{std::move(name), type, std::move(shape), {}, data, bytes, false});
}

void Writer::add_tensor_deferred(std::string name, DType type, std::vector<uint64_t> shape) {
  const uint64_t bytes = check_new_tensor(name, type, shape);
  tensors_.push_back(Pending{std::move(name), type, std::move(shape), {}, {}, bytes, true});
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape, std::span<const uint8_t> data) {
  add_tensor_view(std::move(name), type, std::move(shape), data);
  Pending& t = tensors_.back();
  t.owned.assign(data.begin(), data.end());
  t.data = t.owned;
}

template <typename Sink>
void Writer::emit(Sink& sink, const FillFn* fill) const {
  put<Sink, uint32_t>(sink, kMagic);
  put<Sink, uint32_t>(sink, 3);
  put<Sink, uint64_t>(sink, tensors_.size());
  put<Sink, uint64_t>(sink, metadata_.size());
  for (const auto& [key, value] : metadata_.entries()) {
    put_string(sink, key);
    put<Sink, uint32_t>(sink, static_cast<uint32_t>(value.type()));
    put_value(sink, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(sink, t.name);
    put<Sink, uint32_t>(sink, static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) put<Sink, uint64_t>(sink, d);
    put<Sink, uint32_t>(sink, static_cast<uint32_t>(t.type));
    put<Sink, uint64_t>(sink, offset);
    offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  pad_to(sink, alignment_);
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Pending& t = tensors_[i];
    if (t.deferred) {
      if (fill == nullptr) fail("tensor '{}' was declared deferred: write it with a fill callback", t.name);
      scratch.resize(t.n_bytes);
      (*fill)(i, scratch);
      sink.put(scratch.data(), scratch.size());
    } else {
      sink.put(t.data.data(), t.data.size());
    }
    pad_to(sink, alignment_);
  }
}

std::vector<uint8_t> Writer::to_bytes() const {
  ByteSink sink;
  emit(sink, nullptr);
  return std::move(sink.out);
}

void Writer::write(const std::string& path) const {
  FileSink sink(path);
  emit(sink, nullptr);
  sink.close();
}

void Writer::write(const std::string& path, const FillFn& fill) const {
  FileSink sink(path);
  emit(sink, &fill);
  sink.close();
}

}  // namespace hearth::gguf

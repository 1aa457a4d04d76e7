// The GGUF parser. Every count and length is checked against the bytes that
// remain before anything is allocated, so a hostile file costs at most a small
// multiple of its own size and a bounded amount of time.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::gguf {

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, std::string_view source) : bytes_(bytes), source_(source) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  template <typename... Args>
  [[noreturn]] void error_at(size_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {} (at byte {})", source_, fmt::format(format, std::forward<Args>(args)...), offset);
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      error_at(pos_, "file is truncated: {} needs {} bytes but only {} remain", what, n, remaining());
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const size_t at = pos_;
    const auto length = read<uint64_t>(what);
    if (length > remaining())
      error_at(at, "{}: string length {} runs past the end of the file ({} bytes remain)", what, length,
               remaining());
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }

  ValueType read_value_type(std::string_view what) {
    const size_t at = pos_;
    const auto id = read<uint32_t>(what);
    if (!is_valid_value_type(id)) error_at(at, "{}: invalid value type {}", what, id);
    return static_cast<ValueType>(id);
  }

  // The fewest bytes one value of `type` can take on disk: bounds array counts.
  static uint64_t min_encoded_size(ValueType type) {
    if (type == ValueType::String) return 8;
    if (type == ValueType::Array) return 12;
    return scalar_size(type);
  }

  Value read_value(ValueType type, std::string_view key, int depth) {
    Value value;
    value.type_ = type;
    if (type == ValueType::String) {
      value.string_ = read_string(key);
    } else if (type == ValueType::Array) {
      read_array(value, key, depth);
    } else {
      const uint32_t size = scalar_size(type);
      need(size, key);
      std::memcpy(&value.bits_, bytes_.data() + pos_, size);
      if (type == ValueType::Bool && value.bits_ > 1) error_at(pos_, "key '{}': bool value {} is not 0 or 1", key, value.bits_);
      pos_ += size;
    }
    return value;
  }

  void read_array(Value& value, std::string_view key, int depth) {
    constexpr int kMaxNesting = 8;
    const size_t at = pos_;
    if (depth >= kMaxNesting) error_at(at, "key '{}': arrays nested deeper than {}", key, kMaxNesting);
    value.elem_type_ = read_value_type(key);
    const size_t count_at = pos_;
    value.count_ = read<uint64_t>(key);
    const uint64_t min_size = min_encoded_size(value.elem_type_);
    if (value.count_ > remaining() / min_size)
      error_at(count_at, "key '{}': array of {} {} items cannot fit in the {} bytes that remain", key,
               value.count_, value_type_name(value.elem_type_), remaining());
    if (value.elem_type_ == ValueType::String) {
      value.strings_.reserve(value.count_);
      for (uint64_t i = 0; i < value.count_; ++i) value.strings_.push_back(read_string(key));
    } else if (value.elem_type_ == ValueType::Array) {
      value.arrays_.reserve(value.count_);
      for (uint64_t i = 0; i < value.count_; ++i)
        value.arrays_.push_back(read_value(ValueType::Array, key, depth + 1));
    } else {
      const uint64_t n = value.count_ * min_size;
      value.packed_.assign(bytes_.data() + pos_, bytes_.data() + pos_ + n);
      if (value.elem_type_ == ValueType::Bool)
        for (uint64_t i = 0; i < n; ++i)
          if (value.packed_[i] > 1) error_at(pos_ + i, "key '{}': bool item {} is not 0 or 1", key, value.packed_[i]);
      pos_ += n;
    }
  }

  void skip_to(size_t offset) { pos_ = offset; }

 private:
  std::span<const uint8_t> bytes_;
  std::string_view source_;
  size_t pos_ = 0;
};

namespace {

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

void check_tensor_shape(Parser& p, size_t at, TensorInfo& t) {
  const auto info = dtype_info(static_cast<uint32_t>(t.type));
  uint64_t n = 1;
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    if (mul_overflows(n, t.ne[d], &n) || n > uint64_t(std::numeric_limits<int64_t>::max()))
      p.error_at(at, "tensor '{}': dimensions {} overflow the element count", t.name,
                 fmt::join(t.shape(), "x"));
  }
  t.n_elements = n;
  if (t.ne[0] % info->block_size != 0)
    p.error_at(at, "tensor '{}': row length {} is not a multiple of the {} block size {}", t.name, t.ne[0],
               info->name, info->block_size);
  uint64_t bytes = 0;
  if (mul_overflows(n / info->block_size, info->type_size, &bytes))
    p.error_at(at, "tensor '{}': byte size overflows", t.name);
  t.n_bytes = bytes;
}

}  // namespace

File File::parse(std::span<const uint8_t> bytes, std::string source) {
  File file;
  file.path_ = source;
  Parser p(bytes, source);

  const auto magic = p.read<uint32_t>("magic");
  if (magic != kMagic) {
    char shown[5] = {};
    std::memcpy(shown, &magic, 4);
    for (char& c : shown)
      if (c != 0 && (c < 32 || c > 126)) c = '?';
    p.error_at(0, "not a GGUF file: magic is '{}' (0x{:08x}), expected 'GGUF'", shown, magic);
  }
  file.version_ = p.read<uint32_t>("version");
  if (file.version_ == 1) p.error_at(4, "GGUF version 1 is not supported (it predates 64-bit counts); re-convert the model");
  if (file.version_ != 2 && file.version_ != 3) {
    if (file.version_ == 0x02000000 || file.version_ == 0x03000000)
      p.error_at(4, "big-endian GGUF files are not supported");
    p.error_at(4, "unsupported GGUF version {} (supported: 2, 3)", file.version_);
  }
  const size_t counts_at = p.pos();
  const auto n_tensors = p.read<uint64_t>("tensor count");
  const auto n_kv = p.read<uint64_t>("metadata count");
  // A key/value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 4 + 8.
  if (n_kv > p.remaining() / 14)
    p.error_at(counts_at + 8, "metadata count {} cannot fit in the {} bytes that remain", n_kv, p.remaining());
  if (n_tensors > p.remaining() / 25)
    p.error_at(counts_at, "tensor count {} cannot fit in the {} bytes that remain", n_tensors, p.remaining());

  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t key_at = p.pos();
    std::string key = p.read_string(fmt::format("key of metadata entry {}", i));
    if (key.empty()) p.error_at(key_at, "metadata entry {} has an empty key", i);
    if (file.metadata_.contains(key)) p.error_at(key_at, "duplicate metadata key '{}'", key);
    const ValueType type = p.read_value_type(key);
    Value value = p.read_value(type, key, 0);
    file.metadata_.set(std::move(key), std::move(value));
  }

  if (const Value* alignment = file.metadata_.find("general.alignment")) {
    if (alignment->type() != ValueType::U32)
      p.error_at(p.pos(), "'general.alignment' is a {}, expected u32", value_type_name(alignment->type()));
    const uint64_t a = alignment->as_uint("general.alignment");
    if (a == 0 || (a & (a - 1)) != 0)
      p.error_at(p.pos(), "'general.alignment' = {} is not a power of two", a);
    file.alignment_ = a;
  }

  file.tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = p.pos();
    TensorInfo t;
    t.name = p.read_string(fmt::format("name of tensor {}", i));
    if (file.tensor_index_.count(t.name)) p.error_at(at, "duplicate tensor name '{}'", t.name);
    const size_t dims_at = p.pos();
    t.n_dims = p.read<uint32_t>(t.name);
    if (t.n_dims == 0 || t.n_dims > kMaxDims)
      p.error_at(dims_at, "tensor '{}': {} dimensions (must be 1 to {})", t.name, t.n_dims, kMaxDims);
    for (uint32_t d = 0; d < t.n_dims; ++d) t.ne[d] = p.read<uint64_t>(t.name);
    const size_t type_at = p.pos();
    const auto type_id = p.read<uint32_t>(t.name);
    if (!dtype_info(type_id)) p.error_at(type_at, "tensor '{}': unknown tensor type id {}", t.name, type_id);
    t.type = static_cast<DType>(type_id);
    const size_t offset_at = p.pos();
    t.offset = p.read<uint64_t>(t.name);
    if (t.offset % file.alignment_ != 0)
      p.error_at(offset_at, "tensor '{}': data offset {} is not a multiple of the alignment {}", t.name, t.offset,
                 file.alignment_);
    check_tensor_shape(p, at, t);
    file.tensor_index_.emplace(t.name, file.tensors_.size());
    file.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t header_end = p.pos();
  const uint64_t data_offset = (header_end + file.alignment_ - 1) / file.alignment_ * file.alignment_;
  if (!file.tensors_.empty() && data_offset > bytes.size())
    p.error_at(header_end, "data section starts at {} past the end of the file ({} bytes)", data_offset,
               bytes.size());
  file.data_offset_ = data_offset;
  const uint64_t data_size = bytes.size() > data_offset ? bytes.size() - data_offset : 0;
  for (auto& t : file.tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      p.error_at(data_offset + std::min(t.offset, data_size),
                 "tensor '{}': data [{}, +{}) runs past the end of the data section ({} bytes)", t.name, t.offset,
                 t.n_bytes, data_size);
    t.data = bytes.data() + data_offset + t.offset;
  }
  return file;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) fail("{}: tensor '{}' is missing", path_, name);
  return *t;
}

void File::drop_pages(const void* p, size_t n) const {
  for (const auto& part : files_) part->drop_pages(p, n);
}

void File::drop_all_pages() const {
  for (const auto& part : files_) part->drop_pages(part->bytes().data(), part->bytes().size());
}

const MappedFile* File::mapping_of(const void* p, size_t n) const {
  for (const auto& part : files_)
    if (part->holds(p, n)) return part.get();
  return nullptr;
}

uint64_t File::n_params() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.n_elements;
  return n;
}

void File::append(File&& part) {
  const auto index = static_cast<uint32_t>(files_.size());
  files_.insert(files_.end(), part.files_.begin(), part.files_.end());
  for (auto& t : part.tensors_) {
    if (tensor_index_.count(t.name)) fail("{}: tensor '{}' is also in an earlier split file", part.path_, t.name);
    t.file_index = index;
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
}

std::optional<SplitName> parse_split_name(const std::string& path) {
  // PREFIX-NNNNN-of-MMMMM.gguf: the tail is exactly 25 characters.
  constexpr std::string_view kOf = "-of-", kExt = ".gguf";
  constexpr size_t kTail = 1 + 5 + 4 + 5 + 5;
  if (path.size() <= kTail) return std::nullopt;
  const std::string_view tail = std::string_view(path).substr(path.size() - kTail);
  auto digits = [](std::string_view s) {
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if (tail[0] != '-' || tail.substr(6, 4) != kOf || tail.substr(15) != kExt || !digits(tail.substr(1, 5)) ||
      !digits(tail.substr(10, 5)))
    return std::nullopt;
  return SplitName{path.substr(0, path.size() - kTail), static_cast<uint32_t>(std::stoul(std::string(tail.substr(1, 5)))),
                   static_cast<uint32_t>(std::stoul(std::string(tail.substr(10, 5))))};
}

std::string split_path(const std::string& prefix, uint32_t index, uint32_t count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, index, count);
}

File File::open(const std::string& path) {
  auto mapping = std::make_shared<MappedFile>(path);
  File file = parse(mapping->bytes(), path);
  file.files_.push_back(mapping);

  const uint64_t split_count = static_cast<uint64_t>(file.metadata_.get_int_or("split.count", 1));
  const auto name = parse_split_name(path);
  if (split_count <= 1 && !(name && name->count > 1)) return file;

  if (!name) fail("{}: split.count is {} but the name is not of the form NAME-00001-of-{:05d}.gguf", path, split_count, split_count);
  if (name->index != 1) fail("{}: open the first part of a split model, {}", path, split_path(name->prefix, 1, name->count));
  if (split_count != name->count)
    fail("{}: split.count is {} but the file name says {} parts", path, split_count, name->count);
  for (uint32_t i = 2; i <= name->count; ++i) {
    const std::string part_path = split_path(name->prefix, i, name->count);
    auto part_mapping = std::make_shared<MappedFile>(part_path);
    File part = parse(part_mapping->bytes(), part_path);
    part.files_.push_back(part_mapping);
    const int64_t part_no = part.metadata_.get_int_or("split.no", i - 1);
    if (part_no != int64_t(i - 1)) fail("{}: split.no is {}, expected {}", part_path, part_no, i - 1);
    file.append(std::move(part));
  }
  const int64_t expected = file.metadata_.get_int_or("split.tensors.count", int64_t(file.tensors_.size()));
  if (expected != int64_t(file.tensors_.size()))
    fail("{}: split.tensors.count is {} but the {} parts hold {} tensors", path, expected, name->count,
         file.tensors_.size());
  return file;
}

// Metadata.

void Metadata::set(std::string key, Value value) {
  if (const auto it = index_.find(key); it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

const Value* Metadata::find(std::string_view key) const {
  const auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Value& Metadata::at(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("metadata key '{}' is missing", key);
  return *v;
}

int64_t Metadata::get_int_or(std::string_view key, int64_t fallback) const {
  const Value* v = find(key);
  return v ? v->as_int(key) : fallback;
}
double Metadata::get_number_or(std::string_view key, double fallback) const {
  const Value* v = find(key);
  return v ? v->as_number(key) : fallback;
}
std::string Metadata::get_string_or(std::string_view key, std::string fallback) const {
  const Value* v = find(key);
  return v ? v->as_string(key) : fallback;
}
bool Metadata::get_bool_or(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  return v ? v->as_bool(key) : fallback;
}

}  // namespace hearth::gguf

#include "quant/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace hearth::quant {
namespace {

constexpr std::string_view kSumsSuffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";
constexpr const char* kDatasetsKey = "imatrix.datasets";
constexpr const char* kChunkCountKey = "imatrix.chunk_count";
constexpr const char* kChunkSizeKey = "imatrix.chunk_size";

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read importance matrix '{}'", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Little-endian reads of the .dat format, checked against the end.
class DatReader {
 public:
  DatReader(const std::vector<uint8_t>& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  bool at_end() const { return pos_ >= bytes_.size(); }
  int32_t i32(const char* what) {
    int32_t v;
    take(&v, sizeof v, what);
    return v;
  }
  void take(void* out, size_t n, const char* what) {
    if (bytes_.size() - pos_ < n) fail("importance matrix '{}' ends inside {} (offset {})", path_, what, pos_);
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
  }

 private:
  const std::vector<uint8_t>& bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

Imatrix load_legacy(const std::vector<uint8_t>& bytes, const std::string& path) {
  DatReader in(bytes, path);
  Imatrix m;
  m.is_legacy = true;
  const int32_t n_entries = in.i32("the entry count");
  if (n_entries < 1) fail("importance matrix '{}' holds no entries", path);
  for (int32_t i = 0; i < n_entries; ++i) {
    const int32_t len = in.i32("an entry name length");
    if (len < 0 || size_t(len) > bytes.size()) fail("importance matrix '{}': entry {} has a bad name length {}", path, i, len);
    std::string name(size_t(len), '\0');
    in.take(name.data(), name.size(), "an entry name");
    name.resize(std::strlen(name.c_str()));  // llama.cpp reads it as a C string
    const int32_t ncall = in.i32("an entry's call count");
    const int32_t nval = in.i32("an entry's value count");
    if (nval < 1) fail("importance matrix '{}': entry '{}' has {} values", path, name, nval);
    ImatrixEntry& e = m.entries[name];
    e.sums.resize(size_t(nval));
    in.take(e.sums.data(), e.sums.size() * sizeof(float), "an entry's values");
    e.counts = {ncall};
  }
  // The trailing chunk count and dataset name are optional.
  if (!in.at_end()) {
    m.chunk_count = in.i32("the chunk count");
    if (!in.at_end()) {
      const int32_t len = in.i32("the dataset name length");
      if (len > 0 && size_t(len) <= bytes.size()) {
        std::string dataset(size_t(len), '\0');
        in.take(dataset.data(), dataset.size(), "the dataset name");
        dataset.resize(std::strlen(dataset.c_str()));
        m.datasets.push_back(dataset);
      }
    }
  }
  return m;
}

Imatrix load_gguf(const std::string& path) {
  const gguf::File file = gguf::File::open(path);
  if (file.tensors().empty()) fail("importance matrix '{}' holds no tensors", path);
  Imatrix m;
  const gguf::Metadata& md = file.metadata();
  if (const gguf::Value* v = md.find(kDatasetsKey); v != nullptr && v->is_array() && v->elem_type() == gguf::ValueType::String)
    m.datasets = v->strings(kDatasetsKey);
  m.has_metadata = md.contains(kDatasetsKey) && md.contains(kChunkCountKey) && md.contains(kChunkSizeKey);
  m.chunk_count = int32_t(md.get_int_or(kChunkCountKey, 0));
  m.chunk_size = int32_t(md.get_int_or(kChunkSizeKey, 0));

  std::map<std::string, std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*>> parts;
  for (const auto& t : file.tensors()) {
    std::string_view name = t.name;
    if (name.ends_with(kSumsSuffix)) {
      parts[std::string(name.substr(0, name.size() - kSumsSuffix.size()))].first = &t;
    } else if (name.ends_with(kCountsSuffix)) {
      parts[std::string(name.substr(0, name.size() - kCountsSuffix.size()))].second = &t;
    }
  }
  for (const auto& [name, pair] : parts) {
    const auto [sums, counts] = pair;
    if (sums == nullptr || counts == nullptr)
      fail("importance matrix '{}': '{}' has {} but no {} tensor", path, name, sums ? kSumsSuffix : kCountsSuffix,
           sums ? kCountsSuffix : kSumsSuffix);
    if (sums->type != DType::F32 || counts->type != DType::F32)
      fail("importance matrix '{}': the sums and counts of '{}' must be F32", path, name);
    if (counts->n_elements == 0 || sums->n_elements % counts->n_elements != 0)
      fail("importance matrix '{}': '{}' has {} sums for {} counts", path, name, sums->n_elements, counts->n_elements);
    ImatrixEntry& e = m.entries[name];
    e.sums.resize(sums->n_elements);
    std::memcpy(e.sums.data(), sums->data, sums->n_bytes);
    std::vector<float> c(counts->n_elements);
    std::memcpy(c.data(), counts->data, counts->n_bytes);
    e.counts.reserve(c.size());
    for (float v : c) e.counts.push_back(std::lround(v));
  }
  return m;
}

std::span<const uint8_t> float_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

}  // namespace

Imatrix load_imatrix(const std::string& path) {
  const std::vector<uint8_t> bytes = read_all(path);
  uint32_t magic = 0;
  if (bytes.size() >= 4) std::memcpy(&magic, bytes.data(), 4);
  return magic == gguf::kMagic ? load_gguf(path) : load_legacy(bytes, path);
}

void save_imatrix_gguf(const Imatrix& imatrix, const std::string& path) {
  gguf::Writer writer;
  writer.set("general.type", gguf::Value::string("imatrix"));
  writer.set(kDatasetsKey, gguf::Value::string_array(imatrix.datasets));
  writer.set(kChunkCountKey, gguf::Value::u32(uint32_t(imatrix.chunk_count)));
  writer.set(kChunkSizeKey, gguf::Value::u32(uint32_t(imatrix.chunk_size)));
  for (const auto& [name, e] : imatrix.entries) {
    const uint64_t n_mat = e.counts.size();
    if (e.sums.empty() || n_mat == 0) continue;
    const uint64_t n_in = e.sums.size() / n_mat;
    std::vector<float> counts(e.counts.begin(), e.counts.end());
    // ggml writes ggml_n_dims dimensions: a trailing 1 is dropped.
    std::vector<uint64_t> sums_shape = n_mat > 1 ? std::vector<uint64_t>{n_in, n_mat} : std::vector<uint64_t>{n_in};
    std::vector<uint64_t> counts_shape = n_mat > 1 ? std::vector<uint64_t>{1, n_mat} : std::vector<uint64_t>{1};
    writer.add_tensor(name + std::string(kSumsSuffix), DType::F32, sums_shape, float_bytes(e.sums));
    writer.add_tensor(name + std::string(kCountsSuffix), DType::F32, counts_shape, float_bytes(counts));
  }
  writer.write(path);
}

void save_imatrix_dat(const Imatrix& imatrix, const std::string& path) {
  if (imatrix.chunk_size <= 0) fail("cannot write '{}' in the .dat format without the chunk size", path);
  std::vector<uint8_t> out;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto put_i32 = [&](int32_t v) { put(&v, sizeof v); };
  std::vector<const std::pair<const std::string, ImatrixEntry>*> stored;
  for (const auto& kv : imatrix.entries)
    if (std::any_of(kv.second.counts.begin(), kv.second.counts.end(), [](int64_t c) { return c != 0; }))
      stored.push_back(&kv);
  put_i32(int32_t(stored.size()));
  const int64_t chunk = imatrix.chunk_size;
  for (const auto* kv : stored) {
    const auto& [name, e] = *kv;
    put_i32(int32_t(name.size()));
    put(name.data(), name.size());
    const int64_t max_count = *std::max_element(e.counts.begin(), e.counts.end());
    const int32_t ncall = int32_t((max_count + chunk - 1) / chunk);  // rounded up: no accidental zeros
    put_i32(ncall);
    const int32_t nval = int32_t(e.sums.size());
    put_i32(nval);
    const size_t per_mat = e.sums.size() / e.counts.size();
    std::vector<float> values(e.sums.size());
    for (size_t i = 0; i < values.size(); ++i) {
      float count = float(e.counts[i / per_mat]);
      float value = e.sums[i];
      if (count == 0.0f) value = count = 1.0f;  // a matrix without data stores 1
      values[i] = (value / count) * float(ncall);
    }
    put(values.data(), values.size() * sizeof(float));
  }
  put_i32(imatrix.chunk_count);
  const std::string dataset = imatrix.datasets.empty() ? std::string() : imatrix.datasets.back();
  put_i32(int32_t(dataset.size()));
  put(dataset.data(), dataset.size());
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
  if (!file) fail("cannot write importance matrix '{}'", path);
}

std::unordered_map<std::string, std::vector<float>> importance_weights(const Imatrix& imatrix) {
  std::unordered_map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : imatrix.entries) {
    std::vector<float>& w = out[name];
    w.resize(e.sums.size());
    if (!imatrix.is_legacy) {
      const size_t n_mat = e.counts.size();
      const size_t n_in = e.sums.size() / n_mat;
      for (size_t j = 0; j < n_mat; ++j) {
        const float count = float(e.counts[j]);
        for (size_t i = 0; i < n_in; ++i) w[j * n_in + i] = count > 0.0f ? e.sums[j * n_in + i] / count : 1.0f;
      }
    } else {
      const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
      for (size_t i = 0; i < w.size(); ++i) w[i] = ncall > 0 ? e.sums[i] / float(ncall) : e.sums[i];
    }
    for (float v : w)
      if (!std::isfinite(v)) fail("importance matrix entry '{}' holds a non-finite value ({})", name, v);
  }
  return out;
}

}  // namespace hearth::quant

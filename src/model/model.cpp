#include "model/model.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "model/arch/architectures.h"

namespace hearth::model {
namespace {

struct ArchEntry {
  std::string_view name;
  ArchLoader load;
};

// general.architecture -> loader. Families llama.cpp runs as llama are aliases.
constexpr std::array kArchitectures = {
    ArchEntry{"llama", load_llama},       ArchEntry{"mistral", load_llama},
    ArchEntry{"qwen2", load_qwen2},       ArchEntry{"qwen3", load_qwen3},
    ArchEntry{"qwen3moe", load_qwen3moe}, ArchEntry{"gemma2", load_gemma2},
    ArchEntry{"gemma3", load_gemma3},     ArchEntry{"phi3", load_phi3},
    ArchEntry{"bert", load_bert},         ArchEntry{"nomic-bert", load_bert},
    ArchEntry{"gpt-oss", load_gpt_oss},   ArchEntry{"bitnet", load_bitnet},
};

// Calls fn on every f32 vector pointer of the weights (W: Weights or const
// Weights).
template <typename W, typename Fn>
void for_each_vector(W& w, Fn&& fn) {
  for (auto* p : {&w.output_norm, &w.rope_freqs, &w.embd_norm, &w.embd_norm_b}) fn(*p);
  for (auto& L : w.layers)
    for (auto* p : {&L.attn_norm, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm, &L.post_attn_norm, &L.ffn_norm,
                    &L.post_ffn_norm, &L.ffn_gate_inp_b, &L.gate_exps_b, &L.up_exps_b, &L.down_exps_b,
                    &L.attn_sinks, &L.attn_sub_norm, &L.ffn_sub_norm, &L.bo, &L.ffn_up_b, &L.ffn_down_b,
                    &L.attn_out_norm, &L.attn_out_norm_b, &L.layer_out_norm, &L.layer_out_norm_b})
      fn(*p);
}

// The file tensors the vectors point into, each once, in file order, with
// where each starts in the copy (64-byte aligned) and the copy's size.
struct VectorCopy {
  std::vector<const gguf::TensorInfo*> tensors;
  std::vector<uint64_t> at;
  uint64_t bytes = 0;
};
VectorCopy plan_vector_copy(const gguf::File& file, const Weights& w) {
  std::vector<const gguf::TensorInfo*> sorted;
  for (const auto& t : file.tensors()) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->data < b->data; });
  std::vector<bool> used(sorted.size(), false);
  for_each_vector(w, [&](const float* p) {
    if (p == nullptr) return;
    const auto* bytes = reinterpret_cast<const uint8_t*>(p);
    auto it = std::upper_bound(sorted.begin(), sorted.end(), bytes, [](const uint8_t* b, auto* t) { return b < t->data; });
    if (it == sorted.begin()) return;
    --it;
    if (bytes < (*it)->data + (*it)->n_bytes) used[size_t(it - sorted.begin())] = true;  // else: not the file's
  });
  VectorCopy copy;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (!used[i]) continue;
    copy.tensors.push_back(sorted[i]);
    copy.at.push_back(copy.bytes);
    copy.bytes += (sorted[i]->n_bytes + 63) / 64 * 64;
  }
  return copy;
}

}  // namespace

std::string supported_architectures() {
  std::string names;
  for (const auto& entry : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

std::unique_ptr<Model> Model::load(std::shared_ptr<const gguf::File> file) {
  const std::string arch = file->metadata().get_string_or("general.architecture", "");
  if (arch.empty()) fail("{}: 'general.architecture' is missing; is this a model file?", file->path());
  const auto it = std::find_if(kArchitectures.begin(), kArchitectures.end(),
                               [&](const ArchEntry& e) { return e.name == arch; });
  if (it == kArchitectures.end())
    fail("{}: architecture '{}' is not supported (supported: {})", file->path(), arch, supported_architectures());
  auto model = std::make_unique<Model>();
  model->file_ = file;
  it->load(*model, *file);
  return model;
}

std::vector<int64_t> Model::kv_widths_k() const {
  std::vector<int64_t> widths;
  for (int l = 0; l < hparams_.n_layer; ++l) widths.push_back(int64_t(hparams_.n_head_kv[l]) * hparams_.head_dim_k);
  return widths;
}

std::vector<int64_t> Model::kv_widths_v() const {
  std::vector<int64_t> widths;
  for (int l = 0; l < hparams_.n_layer; ++l) widths.push_back(int64_t(hparams_.n_head_kv[l]) * hparams_.head_dim_v);
  return widths;
}

bool Model::has_sliding_layers() const {
  for (int l = 0; l < hparams_.n_layer; ++l)
    if (layer_sliding(l)) return true;
  return false;
}

std::vector<int64_t> Model::kv_rows(int64_t global_rows, int64_t sliding_rows) const {
  std::vector<int64_t> rows;
  for (int l = 0; l < hparams_.n_layer; ++l) rows.push_back(layer_sliding(l) ? sliding_rows : global_rows);
  return rows;
}

int64_t Model::max_row_width() const {
  const HParams& hp = hparams_;
  int64_t width = std::max<int64_t>(hp.n_embd, hp.n_ff_expert);
  for (int l = 0; l < hp.n_layer; ++l) {
    width = std::max<int64_t>(width, hp.n_ff[l]);
    width = std::max<int64_t>(width, int64_t(hp.n_head[l]) * std::max(hp.head_dim_k, hp.head_dim_v));
  }
  return width;
}

void Model::prepare_weights(backend::Backend& be, int first_layer, int end_layer, bool output) const {
  const std::lock_guard<std::mutex> lock(prepare_mutex_);
  auto prepare = [&](Weight& w) {
    if (w.empty() || w.packed != nullptr) return;
    if (auto buffer = be.pack(w)) {
      w.packed = buffer.get();
      packed_buffers_.push_back(std::move(buffer));
      // The file's copy is read again only for rows outside the packed groups
      // (or by another backend): let the OS drop it rather than hold the
      // weights twice.
      file_->drop_pages(w.data, size_t(w.n_out) * w.row_bytes);
    }
  };
  if (output) prepare(weights_.output);
  const int end = end_layer < 0 ? hparams_.n_layer : std::min(end_layer, hparams_.n_layer);
  for (int l = std::max(0, first_layer); l < end; ++l) {
    Layer& L = weights_.layers[size_t(l)];
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) prepare(*w);
  }
  if (vector_copy_ == nullptr) {
    const VectorCopy copy = plan_vector_copy(*file_, weights_);
    vector_copy_ = std::make_unique<float[]>(std::max<uint64_t>(1, copy.bytes / sizeof(float)));
    auto* base = reinterpret_cast<uint8_t*>(vector_copy_.get());
    for (size_t i = 0; i < copy.tensors.size(); ++i) std::memcpy(base + copy.at[i], copy.tensors[i]->data, copy.tensors[i]->n_bytes);
    for_each_vector(weights_, [&](const float*& p) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(p);
      for (size_t i = 0; p != nullptr && i < copy.tensors.size(); ++i)
        if (bytes >= copy.tensors[i]->data && bytes < copy.tensors[i]->data + copy.tensors[i]->n_bytes) {
          p = reinterpret_cast<const float*>(base + copy.at[i] + uint64_t(bytes - copy.tensors[i]->data));
          break;
        }
    });
  }
  // The embedding by pread, unless the output matmul reads all of it in place.
  Weight& embd = weights_.token_embd;
  const bool read_in_place_as_output = weights_.output.data == embd.data && weights_.output.packed == nullptr;
  if (!embd.empty() && !read_in_place_as_output)
    embd.file = file_->mapping_of(embd.data, size_t(embd.n_out * embd.n_mat) * embd.row_bytes);
  file_->drop_all_pages();
}

uint64_t Model::vector_copy_bytes() const { return plan_vector_copy(*file_, weights_).bytes; }

Workspace& Workspace::operator=(Workspace&& other) noexcept {
  if (this == &other) return *this;
  this->~Workspace();
  dev = std::exchange(other.dev, nullptr);
  max_rows = other.max_rows;
  logit_rows = other.logit_rows;
  x = other.x, xn = other.xn, q = other.q, k = other.k, v = other.v, attn = other.attn, proj = other.proj;
  ffn_a = other.ffn_a, ffn_b = other.ffn_b, qkv = other.qkv, router = other.router;
  expert_ids = other.expert_ids, expert_weights = other.expert_weights, logits = other.logits;
  tokens = other.tokens, positions = other.positions, last_visible = other.last_visible;
  output_rows = other.output_rows, zero_id = other.zero_id, tables = other.tables, swa_tables = other.swa_tables;
  host_tables = std::move(other.host_tables);
  host_rows = std::move(other.host_rows);
  return *this;
}

Workspace::~Workspace() {
  if (dev == nullptr) return;
  for (const backend::DeviceTensor* t :
       {&x, &xn, &q, &k, &v, &attn, &proj, &ffn_a, &ffn_b, &qkv, &router, &expert_ids, &expert_weights, &logits,
        &tokens, &positions, &last_visible, &output_rows, &zero_id, &tables, &swa_tables})
    if (!t->empty()) dev->free(*t);
  dev = nullptr;
}

DeviceWeights::~DeviceWeights() {
  for (const auto& [key, tensor] : uploaded_) dev_.free(tensor);
}

backend::DeviceTensor DeviceWeights::matrix(const Weight& w) {
  if (w.empty()) return {};
  auto [it, inserted] = uploaded_.try_emplace({w.data, w.packed});
  if (inserted) it->second = dev_.upload_weight(w);
  return it->second;
}

backend::DeviceTensor DeviceWeights::vector(const float* values, int64_t n) {
  if (values == nullptr) return {};
  const auto* bytes = reinterpret_cast<const uint8_t*>(values);
  return matrix(Weight{DType::F32, bytes, n, 1, 1, size_t(n) * sizeof(float)});
}

// Logits rows per lm-head matmul: the logits tensor holds this many rows, so
// that an all-logits prefill does not hold [ubatch][n_vocab] on the device.
constexpr int64_t kLogitRowsPerChunk = 64;

std::vector<Model::BufferShape> Model::workspace_shapes(int64_t max_rows, bool with_logits) const {
  const HParams& hp = hparams_;
  int64_t q = 0, kv = 0, attn = 0, ff = 0;
  for (int l = 0; l < hp.n_layer; ++l) {
    q = std::max<int64_t>(q, int64_t(hp.n_head[l]) * hp.head_dim_k);
    kv = std::max<int64_t>(kv, int64_t(hp.n_head_kv[l]) * std::max(hp.head_dim_k, hp.head_dim_v));
    attn = std::max<int64_t>(attn, int64_t(hp.n_head[l]) * hp.head_dim_v);
    ff = std::max<int64_t>(ff, hp.n_ff[l]);
  }
  const auto f32 = [&](int64_t width) { return BufferShape{DType::F32, std::max<int64_t>(1, width), max_rows}; };
  const auto i32 = [&](int64_t width) { return BufferShape{DType::I32, std::max<int64_t>(1, width), max_rows}; };
  return {
      f32(hp.n_embd), f32(hp.n_embd), f32(hp.n_embd),  // x, xn, proj
      f32(q), f32(kv), f32(kv), f32(attn), f32(q + 2 * kv),
      f32(2 * ff), f32(ff),                                              // ffn_a, ffn_b
      f32(hp.n_expert), i32(hp.n_expert_used), f32(hp.n_expert_used),  // router, expert ids and weights
      // Encoders read their hidden states out of xn instead.
      hp.encoder || !with_logits ? BufferShape{DType::F32, 1, 1}
                 : BufferShape{DType::F32, hp.n_vocab, std::min(max_rows, kLogitRowsPerChunk)},  // logits
      i32(1), i32(1), i32(1), i32(1),                                    // tokens, positions, last visible, output rows
      BufferShape{DType::I32, 1, 1},                                     // zero_id
  };
}

Workspace Model::make_workspace(backend::DeviceBackend& dev, int64_t max_rows, bool with_logits) const {
  const std::vector<BufferShape> shapes = workspace_shapes(max_rows, with_logits);
  size_t next = 0;
  const auto alloc = [&] {
    const BufferShape& s = shapes.at(next++);
    return dev.alloc(s.type, s.n, s.rows);
  };
  Workspace ws;
  ws.dev = &dev;
  ws.max_rows = max_rows;
  ws.logit_rows = std::min(max_rows, kLogitRowsPerChunk);
  for (backend::DeviceTensor* t : {&ws.x, &ws.xn, &ws.proj, &ws.q, &ws.k, &ws.v, &ws.attn, &ws.qkv, &ws.ffn_a,
                                   &ws.ffn_b, &ws.router, &ws.expert_ids, &ws.expert_weights, &ws.logits, &ws.tokens,
                                   &ws.positions, &ws.last_visible, &ws.output_rows, &ws.zero_id})
    *t = alloc();
  if (next != shapes.size()) fail("internal: the workspace has {} buffers, allocated {}", shapes.size(), next);
  const int32_t zero = 0;
  dev.write(ws.zero_id, &zero);
  return ws;
}

}  // namespace hearth::model

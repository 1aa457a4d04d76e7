#include "model/model.h"

#include <algorithm>
#include <array>

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

void Model::prepare_weights(backend::Backend& be) const {
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
  prepare(weights_.output);
  for (Layer& L : weights_.layers) {
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) prepare(*w);
  }
}

Workspace Model::make_workspace(int64_t max_rows) const {
  const HParams& hp = hparams_;
  int64_t q = 0, kv = 0, attn = 0, ff = 0;
  for (int l = 0; l < hp.n_layer; ++l) {
    q = std::max<int64_t>(q, int64_t(hp.n_head[l]) * hp.head_dim_k);
    kv = std::max<int64_t>(kv, int64_t(hp.n_head_kv[l]) * std::max(hp.head_dim_k, hp.head_dim_v));
    attn = std::max<int64_t>(attn, int64_t(hp.n_head[l]) * hp.head_dim_v);
    ff = std::max<int64_t>(ff, hp.n_ff[l]);
  }
  Workspace ws;
  ws.max_rows = max_rows;
  const auto rows = size_t(max_rows);
  ws.x.resize(rows * hp.n_embd);
  ws.xn.resize(rows * hp.n_embd);
  ws.proj.resize(rows * hp.n_embd);
  ws.q.resize(rows * q);
  ws.k.resize(rows * kv);
  ws.v.resize(rows * kv);
  ws.attn.resize(rows * attn);
  ws.qkv.resize(rows * (q + 2 * kv));
  ws.ffn_a.resize(rows * 2 * ff);
  ws.ffn_b.resize(rows * ff);
  ws.router.resize(rows * std::max(1, hp.n_expert));
  ws.expert_ids.resize(rows * std::max(1, hp.n_expert_used));
  ws.expert_weights.resize(rows * std::max(1, hp.n_expert_used));
  return ws;
}

}  // namespace hearth::model

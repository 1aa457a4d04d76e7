#include "vision/vision_model.h"

#include <algorithm>
#include <array>

#include "core/error.h"
#include "vision/projectors/projectors.h"

namespace hearth::vision {
namespace {

struct ProjectorEntry {
  std::string_view name;
  ProjectorLoader load;
};

// clip.projector_type -> loader.
constexpr std::array kProjectors = {
    ProjectorEntry{"gemma3", load_gemma3_projector},
};

}  // namespace

std::string supported_projectors() {
  std::string names;
  for (const auto& entry : kProjectors) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

Weight TensorReader::matrix(const std::string& name, int64_t n_in, int64_t n_out, bool required) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) {
    if (required) fail("{}: tensor '{}' is missing", file_.path(), name);
    return {};
  }
  if (int64_t(t->n_elements) != n_in * n_out || n_in % int64_t(t->ne[0]) != 0)
    fail("{}: tensor '{}' has shape [{}] but {} x {} is expected", file_.path(), name, fmt::join(t->shape(), ", "),
         n_in, n_out);
  const DTypeInfo& info = dtype_info(t->type);
  if (n_in % info.block_size != 0)
    fail("{}: tensor '{}' is {} with rows of {} elements, not whole blocks of {}", file_.path(), name,
         dtype_name(t->type), n_in, info.block_size);
  Weight w;
  w.type = t->type;
  w.data = t->data;
  w.n_in = n_in;
  w.n_out = n_out;
  w.row_bytes = row_bytes(t->type, uint64_t(n_in));
  return w;
}

const float* TensorReader::vector(const std::string& name, int64_t n, bool required) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) {
    if (required) fail("{}: tensor '{}' is missing", file_.path(), name);
    return nullptr;
  }
  if (t->type != DType::F32 || int64_t(t->n_elements) != n)
    fail("{}: tensor '{}' is {} [{}] but f32 [{}] is expected", file_.path(), name, dtype_name(t->type),
         fmt::join(t->shape(), ", "), n);
  return reinterpret_cast<const float*>(t->data);
}

void load_vit_tower(VisionModel& model, const gguf::File& file) {
  const VisionHParams& hp = model.hparams_;
  VisionWeights& w = model.weights_;
  const TensorReader r(file);
  const int64_t E = hp.n_embd, P = hp.patch_size;
  const int64_t n_patches = int64_t(hp.image_size / hp.patch_size) * (hp.image_size / hp.patch_size);
  w.patch_embd = r.matrix("v.patch_embd.weight", 3 * P * P, E);
  w.patch_bias = r.vector("v.patch_embd.bias", E, false);
  w.position_embd = r.matrix("v.position_embd.weight", E, n_patches);
  w.pre_ln_w = r.vector("v.pre_ln.weight", E, false);
  w.pre_ln_b = r.vector("v.pre_ln.bias", E, false);
  w.post_ln_w = r.vector("v.post_ln.weight", E, false);
  w.post_ln_b = r.vector("v.post_ln.bias", E, false);
  w.layers.resize(hp.n_layer);
  for (int l = 0; l < hp.n_layer; ++l) {
    VisionLayer& L = w.layers[l];
    auto name = [&](const char* part) { return fmt::format("v.blk.{}.{}", l, part); };
    L.ln1_w = r.vector(name("ln1.weight"), E);
    L.ln1_b = r.vector(name("ln1.bias"), E, false);
    L.ln2_w = r.vector(name("ln2.weight"), E);
    L.ln2_b = r.vector(name("ln2.bias"), E, false);
    L.wq = r.matrix(name("attn_q.weight"), E, E);
    L.wk = r.matrix(name("attn_k.weight"), E, E);
    L.wv = r.matrix(name("attn_v.weight"), E, E);
    L.wo = r.matrix(name("attn_out.weight"), E, E);
    L.bq = r.vector(name("attn_q.bias"), E, false);
    L.bk = r.vector(name("attn_k.bias"), E, false);
    L.bv = r.vector(name("attn_v.bias"), E, false);
    L.bo = r.vector(name("attn_out.bias"), E, false);
    // Older conversions swapped up and down (llama.cpp's is_ffn_swapped):
    // the tensor named ffn_down then reads n_embd values.
    const gguf::TensorInfo* down = file.find_tensor(name("ffn_down.weight"));
    const bool swapped = down != nullptr && int64_t(down->ne[0]) == E;
    const char* up_name = swapped ? "ffn_down" : "ffn_up";
    const char* down_name = swapped ? "ffn_up" : "ffn_down";
    L.ffn_up = r.matrix(name((std::string(up_name) + ".weight").c_str()), E, hp.n_ff);
    L.ffn_up_b = r.vector(name((std::string(up_name) + ".bias").c_str()), hp.n_ff, false);
    L.ffn_down = r.matrix(name((std::string(down_name) + ".weight").c_str()), hp.n_ff, E);
    L.ffn_down_b = r.vector(name((std::string(down_name) + ".bias").c_str()), E, false);
  }
}

std::unique_ptr<VisionModel> VisionModel::load(std::shared_ptr<const gguf::File> file) {
  const gguf::Metadata& md = file->metadata();
  const std::string arch = md.get_string_or("general.architecture", "");
  if (arch != "clip")
    fail("{}: not a multimodal projector (general.architecture is '{}', expected 'clip'); pass the mmproj GGUF",
         file->path(), arch);
  if (!md.get_bool_or("clip.has_vision_encoder", true))
    fail("{}: this projector has no vision encoder (clip.has_vision_encoder is false)", file->path());
  std::string type = md.get_string_or("clip.vision.projector_type", md.get_string_or("clip.projector_type", ""));
  if (type.empty()) fail("{}: 'clip.projector_type' is missing", file->path());
  const auto it = std::find_if(kProjectors.begin(), kProjectors.end(),
                               [&](const ProjectorEntry& e) { return e.name == type; });
  if (it == kProjectors.end())
    fail("{}: projector type '{}' is not supported (supported: {})", file->path(), type, supported_projectors());

  auto model = std::make_unique<VisionModel>();
  model->file_ = file;
  VisionHParams& hp = model->hparams_;
  hp.projector = type;
  hp.image_size = int(md.get_int("clip.vision.image_size"));
  hp.patch_size = int(md.get_int("clip.vision.patch_size"));
  hp.n_embd = md.get_int("clip.vision.embedding_length");
  hp.n_ff = md.get_int("clip.vision.feed_forward_length");
  hp.n_head = int(md.get_int("clip.vision.attention.head_count"));
  hp.n_layer = int(md.get_int("clip.vision.block_count"));
  hp.eps = float(md.get_number_or("clip.vision.attention.layer_norm_epsilon", 1e-6));
  if (hp.patch_size <= 0 || hp.image_size <= 0 || hp.image_size % hp.patch_size != 0 || hp.image_size > 8192)
    fail("{}: image size {} and patch size {} do not make a patch grid", file->path(), hp.image_size, hp.patch_size);
  if (hp.n_embd <= 0 || hp.n_head <= 0 || hp.n_embd % hp.n_head != 0 || hp.n_ff <= 0 || hp.n_layer <= 0 ||
      hp.n_layer > 1024)
    fail("{}: width {}, {} heads, feed-forward {}, {} blocks do not make an encoder", file->path(), hp.n_embd,
         hp.n_head, hp.n_ff, hp.n_layer);
  const gguf::Value* mean = md.find("clip.vision.image_mean");
  const gguf::Value* stdv = md.find("clip.vision.image_std");
  if (mean == nullptr || stdv == nullptr || !mean->is_array() || !stdv->is_array() || mean->size() < 3 ||
      stdv->size() < 3)
    fail("{}: 'clip.vision.image_mean' and 'clip.vision.image_std' must be arrays of 3 numbers", file->path());
  for (int c = 0; c < 3; ++c) {
    hp.image_mean[c] = float(mean->number_at(c));
    hp.image_std[c] = float(stdv->number_at(c));
    if (hp.image_std[c] == 0.0f) fail("{}: 'clip.vision.image_std' has a zero", file->path());
  }
  const bool gelu = md.get_bool_or("clip.use_gelu", false), silu = md.get_bool_or("clip.use_silu", false);
  if (gelu == silu)
    fail("{}: the encoder's activation must be GELU (clip.use_gelu) or SiLU (clip.use_silu); gelu_quick is not "
         "supported",
         file->path());
  hp.ffn_act = gelu ? backend::Activation::GeluTanh : backend::Activation::Silu;
  it->load(*model, *file);
  if (!model->preprocess_ || !model->project_ || !model->token_count_)
    fail("internal: projector '{}' did not set its functions", type);
  return model;
}

int64_t VisionModel::tokens_per_image() const {
  const int grid = hparams_.image_size / hparams_.patch_size;
  return token_count_(hparams_, grid, grid);
}

}  // namespace hearth::vision

// Gemma 3's projector (llama.cpp PROJECTOR_TYPE_GEMMA3): the image resized
// bilinearly into the encoder's square (aspect kept, black padding), the
// SigLIP tower, average pooling of n_merge x n_merge patches per token
// (clip.vision.projector.scale_factor, 4 when absent: 256 tokens for a
// 896-pixel, patch-14 encoder), RMS norm times mm.soft_emb_norm, then
// mm.input_projection into the language model's width.
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "vision/preprocess.h"
#include "vision/projectors/projectors.h"

namespace hearth::vision {
namespace {

PixelInput preprocess(const VisionHParams& hp, const RgbImage& image) {
  const RgbImage square = resize_bilinear_padded(image, hp.image_size, hp.image_size, {0, 0, 0});
  return normalize_to_planes(square, hp.image_mean, hp.image_std);
}

int64_t token_count(const VisionHParams& hp, int grid_w, int grid_h) {
  return int64_t(grid_w / hp.n_merge) * (grid_h / hp.n_merge);
}

void project(const VisionModel& model, backend::Backend& be, const float* patches, int grid_w, int grid_h,
             ImageEmbeddings& out) {
  const VisionHParams& hp = model.hparams();
  const int64_t E = hp.n_embd;
  const int64_t n_tokens = token_count(hp, grid_w, grid_h);
  std::vector<float> pooled(size_t(n_tokens * E));
  if (hp.n_merge > 1)
    be.avg_pool_2d(patches, grid_w, grid_h, E, hp.n_merge, pooled.data());
  else
    std::memcpy(pooled.data(), patches, pooled.size() * sizeof(float));
  be.rms_norm(pooled.data(), model.weights().mm_soft_emb_norm, n_tokens, E, hp.eps, pooled.data());
  out.n_tokens = n_tokens;
  out.n_embd = hp.n_embd_out;
  out.data.resize(size_t(n_tokens * hp.n_embd_out));
  be.matmul(model.weights().mm_input_projection, pooled.data(), n_tokens, out.data.data());
}

}  // namespace

void load_gemma3_projector(VisionModel& model, const gguf::File& file) {
  VisionHParams& hp = model.hparams_;
  hp.n_merge = int(file.metadata().get_int_or("clip.vision.projector.scale_factor", 4));
  const int grid = hp.image_size / hp.patch_size;
  if (hp.n_merge <= 0 || grid % hp.n_merge != 0)
    fail("{}: a {}x{} patch grid does not pool by {} (clip.vision.projector.scale_factor)", file.path(), grid, grid,
         hp.n_merge);
  load_vit_tower(model, file);
  const TensorReader r(file);
  model.weights_.mm_soft_emb_norm = r.vector("mm.soft_emb_norm.weight", hp.n_embd);

  // mm.input_projection is stored [n_embd rows][n_embd_out columns]; llama.cpp
  // multiplies by its transpose. Transposed once here, in its own type, so
  // the matmul rounds the activations as ggml does (f16 weights: f16 inputs).
  const gguf::TensorInfo& proj = file.tensor("mm.input_projection.weight");
  if (proj.n_dims != 2 || int64_t(proj.ne[1]) != hp.n_embd)
    fail("{}: 'mm.input_projection.weight' has shape [{}] but [n_embd_out, {}] is expected", file.path(),
         fmt::join(proj.shape(), ", "), hp.n_embd);
  if (proj.type != DType::F32 && proj.type != DType::F16 && proj.type != DType::BF16)
    fail("{}: 'mm.input_projection.weight' is {}; the gemma3 projector needs f32, f16 or bf16", file.path(),
         dtype_name(proj.type));
  hp.n_embd_out = int64_t(proj.ne[0]);
  const size_t elem = proj.type == DType::F32 ? 4 : 2;
  const int64_t rows = hp.n_embd_out, cols = hp.n_embd;
  std::shared_ptr<uint8_t[]> transposed(new uint8_t[size_t(rows * cols) * elem]);
  for (int64_t i = 0; i < cols; ++i)      // file row i (a vision channel)
    for (int64_t j = 0; j < rows; ++j)    // file column j (an output channel)
      std::memcpy(transposed.get() + size_t(j * cols + i) * elem, proj.data + size_t(i * rows + j) * elem, elem);
  Weight& w = model.weights_.mm_input_projection;
  w.type = proj.type;
  w.data = transposed.get();
  w.n_in = cols;
  w.n_out = rows;
  w.row_bytes = size_t(cols) * elem;
  model.owned_.push_back(transposed);

  hp.image_begin = "<start_of_image>";
  hp.image_end = "<end_of_image>";
  hp.image_sees_whole_image = true;  // llama.cpp's mtmd_decode_use_non_causal
  model.preprocess_ = preprocess;
  model.project_ = project;
  model.token_count_ = token_count;
}

}  // namespace hearth::vision

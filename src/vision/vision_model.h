// A multimodal projector file (GGUF general.architecture = clip, llama.cpp's
// "mmproj"): a ViT image encoder and the projector that maps its output into
// a language model's embedding space. Hyper-parameters and weights come from
// the file; each projector type (clip.projector_type) is one file in
// projectors/ that sets its preprocessing and its projection.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "vision/image.h"

namespace hearth::vision {

using backend::Weight;

struct VisionHParams {
  std::string projector;  // clip.projector_type
  int image_size = 0;     // the encoder's square input, pixels a side
  int patch_size = 0;
  int64_t n_embd = 0;     // the encoder's width
  int64_t n_ff = 0;
  int n_head = 0;
  int n_layer = 0;
  float eps = 1e-6f;      // layer norm epsilon
  std::array<float, 3> image_mean{}, image_std{};
  backend::Activation ffn_act = backend::Activation::GeluTanh;
  int n_merge = 1;        // projector pooling: patches per token, a side
  int64_t n_embd_out = 0; // the language model's width (the projector's output)
  // Text around each image's tokens in the prompt, and whether the language
  // model attends over an image's tokens all at once (gemma3) or causally.
  std::string image_begin, image_end;
  bool image_sees_whole_image = false;
};

struct VisionLayer {
  const float *ln1_w = nullptr, *ln1_b = nullptr, *ln2_w = nullptr, *ln2_b = nullptr;
  Weight wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  Weight ffn_up, ffn_down;
  const float *ffn_up_b = nullptr, *ffn_down_b = nullptr;
};

struct VisionWeights {
  Weight patch_embd;                  // [n_embd][3 * patch * patch], channel-major kernels
  const float* patch_bias = nullptr;
  Weight position_embd;               // [n_patches][n_embd]
  const float *pre_ln_w = nullptr, *pre_ln_b = nullptr;
  const float *post_ln_w = nullptr, *post_ln_b = nullptr;
  std::vector<VisionLayer> layers;
  // Projector tensors; each projector file uses its own.
  const float* mm_soft_emb_norm = nullptr;
  Weight mm_input_projection;         // gemma3: stored transposed in the file, kept [n_embd_out][n_embd]
};

// The encoder's input: planar normalised RGB ([3][height][width]).
struct PixelInput {
  int width = 0, height = 0;
  std::vector<float> planes;
};

// One image's embeddings for the language model: n_tokens rows of n_embd.
struct ImageEmbeddings {
  int64_t n_tokens = 0;
  int64_t n_embd = 0;
  std::vector<float> data;
};

class VisionModel;
// A projector's pieces: how an image becomes the encoder's input, and how the
// encoder's output [n_patches][n_embd] (a grid_w x grid_h grid) becomes tokens.
using PreprocessFn = PixelInput (*)(const VisionHParams& hp, const RgbImage& image);
using ProjectFn = void (*)(const VisionModel& model, backend::Backend& be, const float* patches, int grid_w,
                           int grid_h, ImageEmbeddings& out);
using TokenCountFn = int64_t (*)(const VisionHParams& hp, int grid_w, int grid_h);

class VisionModel {
 public:
  // Loads a clip GGUF; throws naming an unsupported projector type and the
  // supported ones, or a missing or misshapen tensor.
  static std::unique_ptr<VisionModel> load(std::shared_ptr<const gguf::File> file);

  const VisionHParams& hparams() const { return hparams_; }
  const VisionWeights& weights() const { return weights_; }
  const gguf::File& file() const { return *file_; }

  // The image's tokens for the language model, through `be` (which needs
  // the vision ops: layer_norm, activation, avg_pool_2d).
  ImageEmbeddings encode(backend::Backend& be, const RgbImage& image) const;
  PixelInput preprocess(const RgbImage& image) const { return preprocess_(hparams_, image); }
  // Tokens one image becomes (fixed-size projectors: the same for every image).
  int64_t tokens_per_image() const;

  // Set by the projector files while loading.
  VisionHParams hparams_;
  VisionWeights weights_;
  PreprocessFn preprocess_ = nullptr;
  ProjectFn project_ = nullptr;
  TokenCountFn token_count_ = nullptr;
  std::vector<std::shared_ptr<const uint8_t[]>> owned_;  // tensors rearranged at load

 private:
  std::shared_ptr<const gguf::File> file_;
};

// The projector types this build reads, comma-separated.
std::string supported_projectors();

}  // namespace hearth::vision

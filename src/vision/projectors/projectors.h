// One loader per projector file in this folder: each reads its own
// hyper-parameters and tensors and sets its preprocessing and projection.
// A new projector (SmolVLM/Idefics3, Qwen2.5-VL, LLaVA) is one more file
// here and one line in vision_model.cpp's table.
#pragma once

#include <string>

#include "gguf/gguf.h"
#include "vision/vision_model.h"

namespace hearth::vision {

using ProjectorLoader = void (*)(VisionModel& model, const gguf::File& file);

void load_gemma3_projector(VisionModel& model, const gguf::File& file);

// Reads tensors with the checks every projector needs (present, shape, type),
// naming the tensor and the file in errors.
class TensorReader {
 public:
  explicit TensorReader(const gguf::File& file) : file_(file) {}
  // n_out rows of n_in elements (the tensor's dims from ne1 on make n_out).
  Weight matrix(const std::string& name, int64_t n_in, int64_t n_out, bool required = true) const;
  // A 1-D f32 vector of n.
  const float* vector(const std::string& name, int64_t n, bool required = true) const;

 private:
  const gguf::File& file_;
};

// Reads the SigLIP-style ViT every projector here shares (v.patch_embd,
// v.position_embd, v.blk.N.*, v.post_ln) into model.weights_.
void load_vit_tower(VisionModel& model, const gguf::File& file);

}  // namespace hearth::vision

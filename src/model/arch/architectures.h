// One loader per architecture file in this folder: each reads its
// hyper-parameters, checks and maps its weights, and sets its forward pass.
#pragma once

#include <string>

#include "gguf/gguf.h"
#include "model/model.h"

namespace hearth::model {

using ArchLoader = void (*)(Model& model, const gguf::File& file);

void load_llama(Model& model, const gguf::File& file);
void load_qwen2(Model& model, const gguf::File& file);
void load_qwen3(Model& model, const gguf::File& file);
void load_qwen3moe(Model& model, const gguf::File& file);
void load_gemma2(Model& model, const gguf::File& file);
void load_gemma3(Model& model, const gguf::File& file);
void load_phi3(Model& model, const gguf::File& file);
void load_gpt_oss(Model& model, const gguf::File& file);
void load_bitnet(Model& model, const gguf::File& file);
void load_bert(Model& model, const gguf::File& file);  // bert and nomic-bert

std::string supported_architectures();

// The pre-norm decoder of llama.cpp (arch/llama.cpp), shared by the families
// that are the same network: qwen2, qwen3, qwen3moe, phi3, bitnet.
void prenorm_decoder_forward(const Model& m, ForwardContext& c, const Batch& b, float* logits,
                             backend::RopeParams::Mode rope_mode, int sliding_window);
// The Gemma block of gemma2.cpp, shared with gemma3 (whose differences are
// hyper-parameters: no softcaps, local rope base, the 5:1 window pattern).
void gemma_forward(const Model& m, ForwardContext& c, const Batch& b, float* logits);

}  // namespace hearth::model

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

std::string supported_architectures();

}  // namespace hearth::model

// `hearth run --image`: the projector, the images' embeddings, and the one
// user turn llama-mtmd-cli builds (image markers before the text, rendered
// by the model's chat template with the generation prompt).
#pragma once

#include <string>
#include <vector>

#include "cli/engine_options.h"
#include "runtime/media_prompt.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

// The projector for `model_path`: `mmproj` when given, else the one
// mmproj*.gguf in the model's folder whose output width is the model's.
std::string find_mmproj(const std::string& model_path, const std::string& mmproj, int64_t n_embd);

// One user turn, `prompt` with a media marker per image in front unless it
// places them itself, rendered by the model's chat template with the
// generation prompt (the template's BOS text left to the tokenizer, as
// llama.cpp does), cut into text and image chunks.
std::vector<runtime::PromptChunk> image_prompt_chunks(const LoadedEngine& engine, const tokenizer::Tokenizer& tok,
                                                      const std::string& prompt, size_t n_images,
                                                      const runtime::MediaMarkers& markers);

// Evaluates the prompt up to its last text chunk into the engine's session
// (images through the projector) and returns that last chunk's tokens.
std::vector<int32_t> evaluate_image_prompt(LoadedEngine& engine, const tokenizer::Tokenizer& tok,
                                           const std::string& model_path, const std::string& mmproj,
                                           const std::vector<std::string>& images, const std::string& prompt);

}  // namespace hearth::cli

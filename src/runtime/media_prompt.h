// A prompt with images in it, as llama.cpp's mtmd_tokenize builds it: the
// rendered text is cut at each media marker; every text piece is tokenized
// on its own (special tokens parsed, nothing added); each marker becomes the
// projector's begin text, the image's embedding rows, its end text.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::runtime {

// The marker chat templates and prompts carry where an image goes.
inline constexpr std::string_view kMediaMarker = "<__media__>";

struct PromptChunk {
  std::vector<int32_t> tokens;  // a text chunk's ids; empty for an image
  int image = -1;               // which image (in marker order), or -1 for text
};

struct MediaMarkers {
  std::string_view image_begin;  // gemma3: "<start_of_image>"
  std::string_view image_end;    // gemma3: "<end_of_image>"
};

// Splits `text` into text and image chunks. With add_special, the BOS goes
// first when the tokenizer adds one. Throws when the markers and n_images
// disagree, naming both counts.
std::vector<PromptChunk> split_media_prompt(const tokenizer::Tokenizer& tokenizer, std::string_view text,
                                            const MediaMarkers& markers, size_t n_images, bool add_special);

}  // namespace hearth::runtime

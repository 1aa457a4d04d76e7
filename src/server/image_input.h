// Images in chat requests: OpenAI image_url parts (data URLs; local files
// only with --allow-file-urls; never a remote fetch) and Ollama's `images`
// (converted to data URLs by the Ollama routes), turned into the media
// markers llama.cpp's server puts in their place, then into the prompt's
// image tokens.
#pragma once

#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "server/engine_loop.h"
#include "server/served_model.h"

namespace hearth::server {

// An image from a request: its encoded bytes and the field it came from.
struct RequestImage {
  std::string bytes;
  std::string field;  // messages[i].content[j]
};

// Replaces each image part of `messages` with a text part holding the media
// marker and returns the images, in order. Throws ApiError 400 naming the
// message and part for a URL it will not or cannot read.
std::vector<RequestImage> take_images(chat::OrderedJson& messages, bool allow_file_urls);

// The rendered prompt (media markers in place) as token ids and image spans:
// each marker becomes the projector's begin text, the image's tokens (keyed
// in the prefix cache by the image's content hash), its end text.
void tokenize_with_images(const ServedModel& model, const std::string& prompt_text,
                          const std::vector<RequestImage>& images, GenerationParams& params);

// Standard base64 (padding optional, whitespace skipped); nullopt-like
// failure is a 400 naming `field`.
std::string decode_base64(std::string_view text, const std::string& field);

}  // namespace hearth::server

#include "runtime/media_prompt.h"

#include "core/error.h"

namespace hearth::runtime {

std::vector<PromptChunk> split_media_prompt(const tokenizer::Tokenizer& tokenizer, std::string_view text,
                                            const MediaMarkers& markers, size_t n_images, bool add_special) {
  std::vector<PromptChunk> chunks;
  auto add_text = [&](std::string_view piece) {
    if (piece.empty()) return;
    std::vector<int32_t> ids = tokenizer.encode(piece, /*add_special=*/false, /*parse_special=*/true);
    if (ids.empty()) return;
    if (chunks.empty() || chunks.back().image >= 0) chunks.push_back({});
    chunks.back().tokens.insert(chunks.back().tokens.end(), ids.begin(), ids.end());
  };
  size_t n_markers = 0;
  for (size_t pos = 0;;) {
    const size_t found = text.find(kMediaMarker, pos);
    add_text(text.substr(pos, found == std::string_view::npos ? std::string_view::npos : found - pos));
    if (found == std::string_view::npos) break;
    if (n_markers < n_images) {
      add_text(markers.image_begin);
      chunks.push_back({{}, int(n_markers)});
      add_text(markers.image_end);
    }
    ++n_markers;
    pos = found + kMediaMarker.size();
  }
  if (n_markers != n_images)
    fail("the prompt has {} image marker(s) but {} image(s) were given", n_markers, n_images);
  if (add_special && tokenizer.add_bos()) {
    if (chunks.empty() || chunks.front().image >= 0) chunks.insert(chunks.begin(), PromptChunk{});
    chunks.front().tokens.insert(chunks.front().tokens.begin(), tokenizer.bos());
  }
  return chunks;
}

}  // namespace hearth::runtime

// Streaming detokenization. Pieces are joined as Tokenizer::decode joins
// them, but a token's bytes may end mid-character, and the space clean-up
// may still drop a trailing space once the next token shows. So push()
// re-decodes the ids since the last settled point and returns only the part
// that can no longer change and is complete UTF-8.
#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

// Clean-up patterns begin with a space and span at most 4 bytes, so text up
// to a space among the last 4 bytes may still change.
size_t settled_length(std::string_view text, bool cleans_spaces) {
  if (!cleans_spaces) return text.size();
  const size_t from = text.size() >= 4 ? text.size() - 4 : 0;
  const size_t space = text.find(' ', from);
  return space == std::string_view::npos ? text.size() : space;
}

// Length of the broken sequence at the start of `bytes` (at least 1).
size_t broken_sequence_length(std::string_view bytes) {
  const auto lead = static_cast<uint8_t>(bytes[0]);
  size_t need = lead >= 0xC2 && lead <= 0xDF ? 1 : lead >= 0xE0 && lead <= 0xEF ? 2 : lead >= 0xF0 && lead <= 0xF4 ? 3 : 0;
  size_t length = 1;
  while (need-- > 0 && length < bytes.size() && (static_cast<uint8_t>(bytes[length]) & 0xC0) == 0x80) ++length;
  return length;
}

// Complete characters of `bytes`, with invalid bytes as U+FFFD; `consumed`
// says how far it got (an unfinished character at the end is left).
std::string complete_utf8(std::string_view bytes, bool final_flush, size_t* consumed) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    bool incomplete = false;
    const size_t valid = unicode::valid_utf8_prefix(bytes.substr(i), &incomplete);
    out.append(bytes.substr(i, valid));
    i += valid;
    if (i == bytes.size()) break;
    if (incomplete && !final_flush) break;
    // One U+FFFD per maximal broken sequence (a lead byte and the
    // continuation bytes that still fit it), as the WHATWG decoder does.
    unicode::append_utf8(out, unicode::kReplacement);
    i += incomplete ? bytes.size() - i : broken_sequence_length(bytes.substr(i));
  }
  *consumed = i;
  return out;
}

}  // namespace

// The last 3 bytes of the pieces joined (before clean-up) hold no space, so no
// clean-up pattern can span the end of the segment.
bool StreamDecoder::raw_tail_is_settled() const {
  std::string tail;
  for (auto it = segment_.rbegin(); it != segment_.rend() && tail.size() < 3; ++it)
    tail.insert(0, tok_->piece(*it, remove_special_));
  return tail.size() >= 3 && tail.find(' ', tail.size() - 3) == std::string::npos;
}

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool remove_special) : tok_(&tok), remove_special_(remove_special) {}

std::string StreamDecoder::push(int32_t id) {
  segment_.push_back(id);
  const std::string text = tok_->decode_segment(segment_, remove_special_, first_segment_);
  const size_t settled = std::max(settled_length(text, tok_->cleans_spaces()), emitted_);
  size_t consumed = 0;
  std::string out = complete_utf8(std::string_view(text).substr(emitted_, settled - emitted_), false, &consumed);
  emitted_ += consumed;
  // Start a new segment once everything is out and the text cannot change
  // any more: the last 3 bytes hold no space for a clean-up pattern to start
  // at. This keeps each push proportional to the recent text, not all of it.
  if (emitted_ == text.size() && (!tok_->cleans_spaces() || raw_tail_is_settled())) {
    first_segment_ = false;
    segment_.clear();
    emitted_ = 0;
  }
  return out;
}

std::string StreamDecoder::flush() {
  const std::string text = tok_->decode_segment(segment_, remove_special_, first_segment_);
  size_t consumed = 0;
  std::string out = complete_utf8(std::string_view(text).substr(std::min(emitted_, text.size())), true, &consumed);
  segment_.clear();
  emitted_ = 0;
  first_segment_ = false;
  return out;
}

}  // namespace hearth::tokenizer

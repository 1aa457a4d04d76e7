// Streaming detokenization. Pieces are joined as Tokenizer::decode joins
// them, but a token's bytes may end mid-character, and the space clean-up
// (" ," -> ",", " 's" -> "'s", " ' " -> "'") may still change the end of the
// text once the next token shows. So push() decodes the ids since the last
// settled point and returns only what can no longer change and is complete
// UTF-8.
#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

// Every clean-up pattern starts with a space and reads at most " 're". If the
// joined pieces do not end in a beginning of one (" ", " '", " 'r", " 'v"),
// cleaning them gives a prefix of what cleaning any longer text gives. This
// is the longest such prefix of `raw`.
size_t stable_cut(std::string_view raw) {
  size_t cut = raw.size();
  while (cut > 0) {
    const std::string_view head = raw.substr(0, cut);
    const auto ends = [&](std::string_view suffix) {
      return head.size() >= suffix.size() && head.substr(head.size() - suffix.size()) == suffix;
    };
    if (ends(" "))
      cut -= 1;
    else if (ends(" '"))
      cut -= 2;
    else if (ends(" 'r") || ends(" 'v"))
      cut -= 3;
    else
      break;
  }
  return cut;
}

// Length of the broken sequence at the start of `bytes` (at least 1).
size_t broken_sequence_length(std::string_view bytes) {
  const auto lead = static_cast<uint8_t>(bytes[0]);
  size_t need = lead >= 0xC2 && lead <= 0xDF ? 1 : lead >= 0xE0 && lead <= 0xEF ? 2 : lead >= 0xF0 && lead <= 0xF4 ? 3 : 0;
  size_t length = 1;
  while (need-- > 0 && length < bytes.size() && (static_cast<uint8_t>(bytes[length]) & 0xC0) == 0x80) ++length;
  return length;
}

// Complete characters of `bytes`, with broken sequences as U+FFFD;
// `consumed` says how far it got (an unfinished character at the end stays,
// unless this is the final flush).
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

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool remove_special, bool at_text_start)
    : tok_(&tok), remove_special_(remove_special), first_segment_(at_text_start) {}

std::string StreamDecoder::push(int32_t id) {
  segment_.push_back(id);
  std::string text = tok_->decode_segment(segment_, remove_special_, first_segment_, /*clean=*/false);
  const size_t raw_size = text.size();
  size_t cut = raw_size;
  if (tok_->cleans_spaces()) {
    cut = stable_cut(text);
    text.resize(cut);
    Tokenizer::clean_up_spaces(text);
  }
  size_t consumed = 0;
  std::string out = complete_utf8(std::string_view(text).substr(std::min(emitted_, text.size())), false, &consumed);
  emitted_ += consumed;
  // Once all of it is out and nothing was held back, later text cannot change
  // it: start a new segment, so each push costs only the recent text.
  if (emitted_ == text.size() && cut == raw_size) {
    first_segment_ = false;
    segment_.clear();
    emitted_ = 0;
  }
  return out;
}

std::string StreamDecoder::flush() { return flush({}); }

std::string StreamDecoder::flush(std::string_view continuation) {
  std::string text = tok_->decode_segment(segment_, remove_special_, first_segment_);
  text += continuation;
  size_t consumed = 0;
  std::string out = complete_utf8(std::string_view(text).substr(std::min(emitted_, text.size())), true, &consumed);
  segment_.clear();
  emitted_ = 0;
  first_segment_ = false;
  return out;
}

}  // namespace hearth::tokenizer

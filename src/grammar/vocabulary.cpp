// The token-prefix tries and the plain-text token groups. Tokens sorted by
// their bytes give a trie's nodes in depth-first order directly, so it is laid
// out for one forward pass.
#include <algorithm>

#include "core/error.h"
#include "grammar/grammar.h"

namespace hearth::grammar {

int byte_class(uint8_t b) {
  if (b >= 'a' && b <= 'z') return 0;
  if (b >= 'A' && b <= 'Z') return 1;
  if (b >= '0' && b <= '9') return 2;
  if (b < 0x20 || b == 0x7F) return 36;
  if (b >= 0x80) return 37;
  // The other 33 printable characters, one class each, from 3 on.
  if (b <= 0x2F) return 3 + (b - 0x20);          // space ! " # $ % & ' ( ) * + , - . /
  if (b <= 0x40) return 19 + (b - 0x3A);         // : ; < = > ? @
  if (b <= 0x60) return 26 + (b - 0x5B);         // [ \ ] ^ _ `
  return 32 + (b - 0x7B);                        // { | } ~
}

TokenTrie::TokenTrie(std::vector<int32_t> ids, const std::vector<std::string>& bytes_of) {
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return bytes_of[size_t(a)] < bytes_of[size_t(b)]; });
  // path[d] = node at depth d + 1 on the current root-to-leaf path.
  std::vector<int32_t> path, parent;
  const std::string* previous = nullptr;
  for (int32_t id : ids) {
    const std::string& bytes = bytes_of[size_t(id)];
    size_t common = 0;
    if (previous != nullptr) {
      const size_t limit = std::min(previous->size(), bytes.size());
      while (common < limit && (*previous)[common] == bytes[common]) ++common;
    }
    while (path.size() > common) {
      subtree_end[size_t(path.back())] = int32_t(byte.size());
      path.pop_back();
    }
    for (size_t d = common; d < bytes.size(); ++d) {
      parent.push_back(path.empty() ? -1 : path.back());
      path.push_back(int32_t(byte.size()));
      byte.push_back(uint8_t(bytes[d]));
      depth.push_back(uint16_t(d + 1));
      subtree_end.push_back(0);
      token_begin.push_back(int32_t(tokens.size()));
    }
    // Sorted order means this token's node is always the newest one.
    tokens.push_back(id);
    max_depth = std::max(max_depth, bytes.size());
    previous = &bytes;
  }
  while (!path.empty()) {
    subtree_end[size_t(path.back())] = int32_t(byte.size());
    path.pop_back();
  }
  token_begin.push_back(int32_t(tokens.size()));
  // Children come after their parents: fold upwards in reverse order.
  classes_below.assign(byte.size(), 0);
  for (size_t i = byte.size(); i-- > 0;)
    if (parent[i] >= 0) classes_below[size_t(parent[i])] |= classes_below[i] | (uint64_t(1) << byte_class(byte[i]));
}

namespace {

// Characters in a plain token: -1 when it is not plain text. A plain token is
// well-formed UTF-8 of characters >= U+0020 other than '"', '\', U+2028 and
// U+2029, where the
// last character may be cut short (its bytes so far a valid prefix).
int plain_char_count(const std::string& bytes) {
  int count = 0;
  for (size_t i = 0; i < bytes.size();) {
    const auto lead = uint8_t(bytes[i]);
    size_t length;
    uint8_t second_low = 0x80, second_high = 0xBF;
    if (lead < 0x80) {
      if (lead < 0x20 || lead == '"' || lead == '\\') return -1;
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_low = 0xA0;
      if (lead == 0xED) second_high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_low = 0x90;
      if (lead == 0xF4) second_high = 0x8F;
    } else {
      return -1;
    }
    for (size_t k = 1; k < length && i + k < bytes.size(); ++k) {
      const auto b = uint8_t(bytes[i + k]);
      const uint8_t low = k == 1 ? second_low : 0x80, high = k == 1 ? second_high : 0xBF;
      if (b < low || b > high) return -1;
    }
    // U+2028 and U+2029 are not plain (regex '.' excludes them).
    if (lead == 0xE2 && i + 2 < bytes.size() && uint8_t(bytes[i + 1]) == 0x80 &&
        (uint8_t(bytes[i + 2]) == 0xA8 || uint8_t(bytes[i + 2]) == 0xA9))
      return -1;
    ++count;
    i += length;  // past the end when the last character is cut short
  }
  return count;
}

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> token_bytes, std::vector<int32_t> eog_ids)
    : token_bytes_(std::move(token_bytes)), eog_ids_(std::move(eog_ids)) {
  is_eog_.assign(token_bytes_.size(), 0);
  for (int32_t id : eog_ids_) {
    if (id < 0 || size_t(id) >= token_bytes_.size())
      fail("end-of-generation token id {} is outside the vocabulary of {} tokens", id, token_bytes_.size());
    is_eog_[size_t(id)] = 1;
  }
  std::vector<int32_t> generable, other;
  std::vector<std::pair<int, int32_t>> plain;  // (character count, id)
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    const std::string& bytes = token_bytes_[id];
    if (bytes.empty() || is_eog_[id]) continue;
    if (bytes.size() > 0xFFFF) fail("token {} is {} bytes long; the limit is 65535", id, bytes.size());
    generable.push_back(int32_t(id));
    const int count = plain_char_count(bytes);
    if (count > 0) plain.emplace_back(count, int32_t(id));
    else other.push_back(int32_t(id));
  }
  trie_ = TokenTrie(std::move(generable), token_bytes_);
  other_trie_ = TokenTrie(std::move(other), token_bytes_);
  std::sort(plain.begin(), plain.end());
  for (const auto& [count, id] : plain) {
    while (plain_count_end_.size() <= size_t(count)) plain_count_end_.push_back(int32_t(plain_tokens_.size()));
    plain_tokens_.push_back(id);
  }
  if (!plain_count_end_.empty()) plain_count_end_.push_back(int32_t(plain_tokens_.size()));
}

}  // namespace hearth::grammar

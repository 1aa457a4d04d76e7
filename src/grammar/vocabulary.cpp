// The token-prefix trie: tokens sorted by their bytes give the trie's nodes in
// depth-first order directly, so it is laid out for one forward pass.
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "grammar/grammar.h"

namespace hearth::grammar {

Vocabulary::Vocabulary(std::vector<std::string> token_bytes, std::vector<int32_t> eog_ids)
    : token_bytes_(std::move(token_bytes)), eog_ids_(std::move(eog_ids)) {
  is_eog_.assign(token_bytes_.size(), 0);
  for (int32_t id : eog_ids_) {
    if (id < 0 || size_t(id) >= token_bytes_.size())
      fail("end-of-generation token id {} is outside the vocabulary of {} tokens", id, token_bytes_.size());
    is_eog_[size_t(id)] = 1;
  }

  std::vector<int32_t> order;
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    if (token_bytes_[id].empty() || is_eog_[id]) continue;
    if (token_bytes_[id].size() > 0xFFFF) fail("token {} is {} bytes long; the limit is 65535", id, token_bytes_[id].size());
    order.push_back(int32_t(id));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return token_bytes_[size_t(a)] < token_bytes_[size_t(b)];
  });

  // path[d] = node at depth d + 1 on the current root-to-leaf path.
  std::vector<int32_t> path;
  const std::string* previous = nullptr;
  for (int32_t id : order) {
    const std::string& bytes = token_bytes_[size_t(id)];
    size_t common = 0;
    if (previous != nullptr) {
      const size_t limit = std::min(previous->size(), bytes.size());
      while (common < limit && (*previous)[common] == bytes[common]) ++common;
    }
    while (path.size() > common) {
      node_subtree_end_[size_t(path.back())] = int32_t(node_byte_.size());
      path.pop_back();
    }
    for (size_t d = common; d < bytes.size(); ++d) {
      path.push_back(int32_t(node_byte_.size()));
      node_byte_.push_back(uint8_t(bytes[d]));
      node_depth_.push_back(uint16_t(d + 1));
      node_subtree_end_.push_back(0);
      node_token_begin_.push_back(int32_t(node_tokens_.size()));
    }
    // Sorted order means this token's node is always the newest one.
    node_tokens_.push_back(id);
    max_depth_ = std::max(max_depth_, bytes.size());
    previous = &bytes;
  }
  while (!path.empty()) {
    node_subtree_end_[size_t(path.back())] = int32_t(node_byte_.size());
    path.pop_back();
  }
  node_token_begin_.push_back(int32_t(node_tokens_.size()));
}

}  // namespace hearth::grammar

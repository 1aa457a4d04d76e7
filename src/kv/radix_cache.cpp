#include "kv/radix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace hearth::kv {

RadixCache::RadixCache(BlockPool& pool, int block_size, BlockPool* sliding_pool, int window)
    : pool_(pool), bs_(block_size), root_(pool.n_blocks()), sliding_pool_(sliding_pool), window_(window) {
  if (block_size <= 0) fail("the KV block size must be positive, got {}", block_size);
  if (sliding_pool != nullptr && window <= 0) fail("internal: a sliding KV pool needs a window, got {}", window);
  const size_t n = size_t(pool.n_blocks()) + 1;
  tokens_.assign(size_t(pool.n_blocks()) * size_t(block_size), 0);
  n_tokens_.assign(n, 0);
  parent_.assign(n, -1);
  first_child_.assign(n, -1);
  next_sibling_.assign(n, -1);
  prev_sibling_.assign(n, -1);
  last_used_.assign(n, 0);
  heap_.reserve(n);
  path_.resize(n);
  sliding_.assign(n, -1);
  sliding_used_.assign(n, 0);
  pinned_.assign(n, 0);
}

int32_t RadixCache::common(int32_t node, const int32_t* tokens, int64_t n) const {
  const int32_t limit = int32_t(std::min<int64_t>(n_tokens_[size_t(node)], n));
  const int32_t* own = node_tokens(node);
  int32_t i = 0;
  while (i < limit && own[i] == tokens[i]) ++i;
  return i;
}

int32_t RadixCache::full_child(int32_t node, const int32_t* tokens) const {
  for (int32_t c = first_child_[size_t(node)]; c >= 0; c = next_sibling_[size_t(c)])
    if (n_tokens_[size_t(c)] == bs_ && common(c, tokens, bs_) == bs_) return c;
  return -1;
}

int32_t RadixCache::window_first_block(int64_t point) const {
  return int32_t(std::max<int64_t>(0, point - window_ + 1) / bs_);
}

bool RadixCache::window_present(int64_t point, int32_t n_full, int32_t copy_node) const {
  if (point == 0) return true;
  for (int32_t b = window_first_block(point); b < n_full; ++b)
    if (sliding_[size_t(path_[size_t(b)])] < 0) return false;
  return copy_node < 0 || sliding_[size_t(copy_node)] >= 0;
}

RadixCache::Match RadixCache::walk(std::span<const int32_t> tokens, int64_t max_tokens) const {
  max_tokens = std::min<int64_t>(max_tokens, int64_t(tokens.size()));
  Match m;
  int32_t node = root_;
  int64_t at = 0;
  while (at + bs_ <= max_tokens) {
    const int32_t child = full_child(node, tokens.data() + at);
    if (child < 0) break;
    path_[size_t(m.n_shared)] = child;
    ++m.n_shared;
    node = child;
    at += bs_;
  }
  // The rest of the prefix, if any, is copied from the child that continues
  // it furthest (with a sliding pool, among those whose sliding block is there).
  const int64_t rest = std::min<int64_t>(max_tokens - at, bs_ - 1);
  if (rest > 0) {
    for (int32_t c = first_child_[size_t(node)]; c >= 0; c = next_sibling_[size_t(c)]) {
      if (sliding_pool_ != nullptr && sliding_[size_t(c)] < 0) continue;
      const int32_t rows = common(c, tokens.data() + at, rest);
      if (rows > m.copy_rows) {
        m.copy_rows = rows;
        m.copy_from = c;
      }
    }
  }
  if (sliding_pool_ == nullptr) return m;
  // The window before the match must be there; else the longest block-aligned
  // prefix that has its window.
  if (!window_present(m.tokens(bs_), m.n_shared, m.copy_from)) {
    m.copy_from = -1;
    m.copy_rows = 0;
    while (m.n_shared > 0 && !window_present(int64_t(m.n_shared) * bs_, m.n_shared, -1)) --m.n_shared;
  }
  m.sliding_first = m.tokens(bs_) == 0 ? m.n_shared : std::min(window_first_block(m.tokens(bs_)), m.n_shared);
  m.copy_sliding_from = m.copy_from >= 0 ? sliding_[size_t(m.copy_from)] : -1;
  return m;
}

RadixCache::Match RadixCache::peek(std::span<const int32_t> tokens, int64_t max_tokens) const {
  return walk(tokens, max_tokens);
}

RadixCache::Match RadixCache::acquire(std::span<const int32_t> tokens, int64_t max_tokens, int32_t* shared_out,
                                      int32_t* sliding_out) {
  const Match m = walk(tokens, max_tokens);
  const uint64_t now = ++clock_;
  for (int32_t i = 0; i < m.n_shared; ++i) {
    const int32_t node = path_[size_t(i)];
    shared_out[i] = node;
    pool_.ref(node);
    last_used_[size_t(node)] = now;
  }
  if (m.copy_from >= 0) {
    pool_.ref(m.copy_from);
    last_used_[size_t(m.copy_from)] = now;
  }
  if (sliding_pool_ != nullptr) {
    if (sliding_out == nullptr) fail("internal: a sliding-window prefix needs a table for its sliding blocks");
    for (int32_t i = m.sliding_first; i < m.n_shared; ++i) {
      const int32_t node = path_[size_t(i)];
      sliding_out[i] = sliding_[size_t(node)];
      sliding_pool_->ref(sliding_[size_t(node)]);
      sliding_used_[size_t(node)] = now;
    }
    if (m.copy_from >= 0) {
      sliding_pool_->ref(m.copy_sliding_from);
      sliding_used_[size_t(m.copy_from)] = now;
    }
  }
  return m;
}

void RadixCache::add_node(int32_t parent, int32_t block, const int32_t* tokens, int32_t n_tokens) {
  if (block < 0 || block >= root_) fail("internal: KV block {} does not exist", block);
  if (in_tree(block)) fail("internal: KV block {} is cached twice", block);
  pool_.ref(block);
  std::copy(tokens, tokens + n_tokens, tokens_.begin() + ptrdiff_t(size_t(block) * size_t(bs_)));
  n_tokens_[size_t(block)] = n_tokens;
  parent_[size_t(block)] = parent;
  first_child_[size_t(block)] = -1;
  prev_sibling_[size_t(block)] = -1;
  next_sibling_[size_t(block)] = first_child_[size_t(parent)];
  if (first_child_[size_t(parent)] >= 0) prev_sibling_[size_t(first_child_[size_t(parent)])] = block;
  first_child_[size_t(parent)] = block;
  last_used_[size_t(block)] = clock_;
  ++n_nodes_;
}

void RadixCache::remove_node(int32_t node) {
  if (first_child_[size_t(node)] >= 0) fail("internal: KV block {} is evicted before its children", node);
  const int32_t prev = prev_sibling_[size_t(node)], next = next_sibling_[size_t(node)];
  if (prev >= 0)
    next_sibling_[size_t(prev)] = next;
  else
    first_child_[size_t(parent_[size_t(node)])] = next;
  if (next >= 0) prev_sibling_[size_t(next)] = prev;
  n_tokens_[size_t(node)] = 0;
  parent_[size_t(node)] = next_sibling_[size_t(node)] = prev_sibling_[size_t(node)] = -1;
  --n_nodes_;
  drop_sliding(node);
  pool_.unref(node);
}

void RadixCache::drop_sliding(int32_t node) {
  if (sliding_[size_t(node)] >= 0) sliding_pool_->unref(sliding_[size_t(node)]);
  sliding_[size_t(node)] = -1;
  pinned_[size_t(node)] = 0;
}

void RadixCache::forget_window_block(int32_t node, int32_t sliding_block) {
  if (node < 0 || node >= root_ || !in_tree(node)) return;
  if (sliding_[size_t(node)] == sliding_block && !pinned_[size_t(node)]) drop_sliding(node);
}

bool RadixCache::drop_covered_partials(int32_t parent, const int32_t* tokens, int64_t n, bool replacement_has_sliding) {
  bool pinned_window = false;
  for (int32_t c = first_child_[size_t(parent)]; c >= 0;) {
    const int32_t next = next_sibling_[size_t(c)];
    const int32_t len = n_tokens_[size_t(c)];
    const bool holds_window = pinned_[size_t(c)] && sliding_[size_t(c)] >= 0;
    if (len < bs_ && len <= n && common(c, tokens, n) == len && pool_.refs(c) == 1 &&
        (!holds_window || replacement_has_sliding)) {
      pinned_window |= holds_window;
      remove_node(c);
    }
    c = next;
  }
  return pinned_window;
}

void RadixCache::insert(std::span<const int32_t> tokens, std::span<int32_t> blocks, std::span<int32_t> sliding_blocks,
                        bool pinned) {
  const int64_t n_full = int64_t(tokens.size()) / bs_;
  const int32_t tail = int32_t(int64_t(tokens.size()) % bs_);
  if (int64_t(blocks.size()) < n_full + (tail > 0 ? 1 : 0))
    fail("internal: {} tokens need more than {} KV blocks", tokens.size(), blocks.size());
  if (sliding_pool_ == nullptr) sliding_blocks = {};
  if (!sliding_blocks.empty() && sliding_blocks.size() < blocks.size())
    fail("internal: {} KV blocks come with {} sliding ones", blocks.size(), sliding_blocks.size());
  const uint64_t now = ++clock_;
  // Gives node the caller's sliding block i, or moves the caller to the node's.
  auto share_sliding = [&](int32_t node, size_t i, bool pin) {
    if (sliding_blocks.empty() || sliding_blocks[i] < 0) return;
    int32_t& mine = sliding_blocks[i];
    if (sliding_[size_t(node)] < 0) {
      sliding_pool_->ref(mine);
      sliding_[size_t(node)] = mine;
    } else if (sliding_[size_t(node)] != mine) {
      sliding_pool_->ref(sliding_[size_t(node)]);
      sliding_pool_->unref(mine);
      mine = sliding_[size_t(node)];
    }
    sliding_used_[size_t(node)] = now;
    if (pin) pinned_[size_t(node)] = 1;
  };
  auto has_sliding = [&](size_t i) { return !sliding_blocks.empty() && sliding_blocks[i] >= 0; };
  int32_t node = root_;
  for (int64_t i = 0; i < n_full; ++i) {
    const int32_t* block_tokens = tokens.data() + i * bs_;
    int32_t child = full_child(node, block_tokens);
    if (child >= 0 && child != blocks[size_t(i)]) {
      // Computed twice (two sequences at once): keep the tree's copy.
      pool_.ref(child);
      pool_.unref(blocks[size_t(i)]);
      blocks[size_t(i)] = child;
    }
    // A pinned window's partial block that this one covers passes its pin on.
    bool inherit_pin = false;
    if (child < 0) {
      inherit_pin = drop_covered_partials(node, block_tokens, bs_, has_sliding(size_t(i)));
      add_node(node, blocks[size_t(i)], block_tokens, bs_);
      child = blocks[size_t(i)];
    }
    last_used_[size_t(child)] = now;
    share_sliding(child, size_t(i), pinned || inherit_pin);
    node = child;
  }
  if (tail == 0) return;
  const int32_t* tail_tokens = tokens.data() + n_full * bs_;
  const bool tail_sliding = has_sliding(size_t(n_full));
  for (int32_t c = first_child_[size_t(node)]; c >= 0; c = next_sibling_[size_t(c)])
    if (common(c, tail_tokens, tail) == tail && (sliding_pool_ == nullptr || sliding_[size_t(c)] >= 0 || !tail_sliding)) {
      last_used_[size_t(c)] = now;
      if (sliding_[size_t(c)] >= 0) {
        sliding_used_[size_t(c)] = now;
        if (pinned) pinned_[size_t(c)] = 1;
      }
      return;  // already covered
    }
  const bool inherit_pin = drop_covered_partials(node, tail_tokens, tail, tail_sliding);
  const int32_t block = blocks[size_t(n_full)];
  add_node(node, block, tail_tokens, tail);
  share_sliding(block, size_t(n_full), pinned || inherit_pin);
}

bool RadixCache::evictable_leaf(int32_t node) const {
  return node != root_ && in_tree(node) && first_child_[size_t(node)] < 0 && pool_.refs(node) == 1;
}

int32_t RadixCache::evict(int32_t n) {
  heap_.clear();
  for (int32_t b = 0; b < root_; ++b)
    if (evictable_leaf(b)) heap_.push_back(b);
  // A min-heap on last use: the least recently used leaf on top.
  const auto later = [&](int32_t a, int32_t b) { return last_used_[size_t(a)] > last_used_[size_t(b)]; };
  std::make_heap(heap_.begin(), heap_.end(), later);
  int32_t freed = 0;
  while (freed < n && !heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const int32_t node = heap_.back();
    heap_.pop_back();
    const int32_t parent = parent_[size_t(node)];
    remove_node(node);
    ++freed;
    if (evictable_leaf(parent)) {
      heap_.push_back(parent);
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }
  return freed;
}

int32_t RadixCache::evict_sliding(int32_t n) {
  if (sliding_pool_ == nullptr) return 0;
  heap_.clear();
  for (int32_t b = 0; b < root_; ++b)
    if (in_tree(b) && sliding_[size_t(b)] >= 0 && sliding_pool_->refs(sliding_[size_t(b)]) == 1) heap_.push_back(b);
  const auto later = [&](int32_t a, int32_t b) { return sliding_used_[size_t(a)] > sliding_used_[size_t(b)]; };
  std::make_heap(heap_.begin(), heap_.end(), later);
  int32_t freed = 0;
  while (freed < n && !heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    drop_sliding(heap_.back());
    heap_.pop_back();
    ++freed;
  }
  return freed;
}

int32_t RadixCache::cached_sliding_blocks() const {
  int32_t count = 0;
  for (int32_t b = 0; b < root_; ++b) count += in_tree(b) && sliding_[size_t(b)] >= 0;
  return count;
}

int32_t RadixCache::evictable_sliding_blocks() const {
  int32_t count = 0;
  for (int32_t b = 0; b < root_; ++b)
    count += in_tree(b) && sliding_[size_t(b)] >= 0 && sliding_pool_->refs(sliding_[size_t(b)]) == 1;
  return count;
}

int32_t RadixCache::evictable_blocks() const {
  int32_t count = 0;
  for (int32_t b = 0; b < root_; ++b)
    if (in_tree(b) && pool_.refs(b) == 1) ++count;
  return count;
}

void RadixCache::check_invariants() const {
  int32_t nodes = 0;
  for (int32_t b = 0; b < root_; ++b) {
    if (!in_tree(b)) continue;
    ++nodes;
    if (pool_.refs(b) < 1) fail("cached block {} has no reference", b);
    const int32_t parent = parent_[size_t(b)];
    if (parent != root_ && (!in_tree(parent) || n_tokens_[size_t(parent)] != bs_))
      fail("cached block {} hangs from block {}, which is not a full node", b, parent);
    if (parent != root_ && pool_.refs(parent) < pool_.refs(b))
      fail("cached block {} has more references ({}) than its parent {} ({})", b, pool_.refs(b), parent,
           pool_.refs(parent));
    if (n_tokens_[size_t(b)] < bs_ && first_child_[size_t(b)] >= 0) fail("partial block {} has children", b);
    if (sliding_[size_t(b)] >= 0 && (sliding_pool_ == nullptr || sliding_pool_->refs(sliding_[size_t(b)]) < 1))
      fail("cached block {} holds sliding block {} without a reference", b, sliding_[size_t(b)]);
    bool listed = false;
    for (int32_t c = first_child_[size_t(parent)]; c >= 0; c = next_sibling_[size_t(c)]) listed |= c == b;
    if (!listed) fail("cached block {} is missing from its parent's children", b);
  }
  if (nodes != n_nodes_) fail("the tree counts {} nodes but holds {}", n_nodes_, nodes);
}

}  // namespace hearth::kv

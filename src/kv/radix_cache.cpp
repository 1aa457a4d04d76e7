#include "kv/radix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace hearth::kv {

RadixCache::RadixCache(BlockPool& pool, int block_size)
    : pool_(pool), bs_(block_size), root_(pool.n_blocks()) {
  if (block_size <= 0) fail("the KV block size must be positive, got {}", block_size);
  const size_t n = size_t(pool.n_blocks()) + 1;
  tokens_.assign(size_t(pool.n_blocks()) * size_t(block_size), 0);
  n_tokens_.assign(n, 0);
  parent_.assign(n, -1);
  first_child_.assign(n, -1);
  next_sibling_.assign(n, -1);
  prev_sibling_.assign(n, -1);
  last_used_.assign(n, 0);
  heap_.reserve(n);
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

RadixCache::Match RadixCache::walk(std::span<const int32_t> tokens, int64_t max_tokens, int32_t* shared_out) const {
  max_tokens = std::min<int64_t>(max_tokens, int64_t(tokens.size()));
  Match m;
  int32_t node = root_;
  int64_t at = 0;
  while (at + bs_ <= max_tokens) {
    const int32_t child = full_child(node, tokens.data() + at);
    if (child < 0) break;
    if (shared_out) shared_out[m.n_shared] = child;
    ++m.n_shared;
    node = child;
    at += bs_;
  }
  // The rest of the prefix, if any, is copied from the child that continues it furthest.
  const int64_t rest = std::min<int64_t>(max_tokens - at, bs_ - 1);
  if (rest > 0) {
    for (int32_t c = first_child_[size_t(node)]; c >= 0; c = next_sibling_[size_t(c)]) {
      const int32_t rows = common(c, tokens.data() + at, rest);
      if (rows > m.copy_rows) {
        m.copy_rows = rows;
        m.copy_from = c;
      }
    }
  }
  return m;
}

RadixCache::Match RadixCache::peek(std::span<const int32_t> tokens, int64_t max_tokens) const {
  return walk(tokens, max_tokens, nullptr);
}

RadixCache::Match RadixCache::acquire(std::span<const int32_t> tokens, int64_t max_tokens, int32_t* shared_out) {
  const Match m = walk(tokens, max_tokens, shared_out);
  const uint64_t now = ++clock_;
  for (int32_t i = 0; i < m.n_shared; ++i) {
    pool_.ref(shared_out[i]);
    last_used_[size_t(shared_out[i])] = now;
  }
  if (m.copy_from >= 0) {
    pool_.ref(m.copy_from);
    last_used_[size_t(m.copy_from)] = now;
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
  pool_.unref(node);
}

void RadixCache::drop_covered_partials(int32_t parent, const int32_t* tokens, int64_t n) {
  for (int32_t c = first_child_[size_t(parent)]; c >= 0;) {
    const int32_t next = next_sibling_[size_t(c)];
    const int32_t len = n_tokens_[size_t(c)];
    if (len < bs_ && len <= n && common(c, tokens, n) == len && pool_.refs(c) == 1) remove_node(c);
    c = next;
  }
}

void RadixCache::insert(std::span<const int32_t> tokens, std::span<int32_t> blocks) {
  const int64_t n_full = int64_t(tokens.size()) / bs_;
  const int32_t tail = int32_t(int64_t(tokens.size()) % bs_);
  if (int64_t(blocks.size()) < n_full + (tail > 0 ? 1 : 0))
    fail("internal: {} tokens need more than {} KV blocks", tokens.size(), blocks.size());
  const uint64_t now = ++clock_;
  int32_t node = root_;
  for (int64_t i = 0; i < n_full; ++i) {
    const int32_t* block_tokens = tokens.data() + i * bs_;
    int32_t child = full_child(node, block_tokens);
    if (child >= 0 && child != blocks[size_t(i)]) {
      // Computed twice (two sequences at once): keep the tree's copy.
      pool_.ref(child);
      pool_.unref(blocks[size_t(i)]);
      blocks[size_t(i)] = child;
    } else if (child < 0) {
      drop_covered_partials(node, block_tokens, bs_);
      add_node(node, blocks[size_t(i)], block_tokens, bs_);
      child = blocks[size_t(i)];
    }
    last_used_[size_t(child)] = now;
    node = child;
  }
  if (tail == 0) return;
  const int32_t* tail_tokens = tokens.data() + n_full * bs_;
  for (int32_t c = first_child_[size_t(node)]; c >= 0; c = next_sibling_[size_t(c)])
    if (common(c, tail_tokens, tail) == tail) {
      last_used_[size_t(c)] = now;
      return;  // already covered
    }
  drop_covered_partials(node, tail_tokens, tail);
  add_node(node, blocks[size_t(n_full)], tail_tokens, tail);
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
    bool listed = false;
    for (int32_t c = first_child_[size_t(parent)]; c >= 0; c = next_sibling_[size_t(c)]) listed |= c == b;
    if (!listed) fail("cached block {} is missing from its parent's children", b);
  }
  if (nodes != n_nodes_) fail("the tree counts {} nodes but holds {}", n_nodes_, nodes);
}

}  // namespace hearth::kv

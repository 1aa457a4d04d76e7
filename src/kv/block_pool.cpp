#include "kv/block_pool.h"

#include "core/error.h"

namespace hearth::kv {

BlockPool::BlockPool(int32_t n_blocks) {
  if (n_blocks <= 0) fail("the KV block pool needs at least one block, got {}", n_blocks);
  refs_.assign(size_t(n_blocks), 0);
  free_.reserve(size_t(n_blocks));
  // Handed out lowest id first.
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

void BlockPool::check(int32_t block) const {
  if (block < 0 || block >= n_blocks()) fail("internal: KV block {} does not exist (0..{})", block, n_blocks() - 1);
}

int32_t BlockPool::allocate() {
  if (free_.empty()) return -1;
  const int32_t block = free_.back();
  free_.pop_back();
  refs_[size_t(block)] = 1;
  return block;
}

void BlockPool::ref(int32_t block) {
  check(block);
  if (refs_[size_t(block)] <= 0) fail("internal: KV block {} is free, it cannot gain a reference", block);
  ++refs_[size_t(block)];
}

int32_t BlockPool::unref(int32_t block) {
  check(block);
  if (refs_[size_t(block)] <= 0) fail("internal: KV block {} is already free", block);
  const int32_t left = --refs_[size_t(block)];
  if (left == 0) free_.push_back(block);
  return left;
}

int32_t BlockPool::refs(int32_t block) const {
  check(block);
  return refs_[size_t(block)];
}

}  // namespace hearth::kv

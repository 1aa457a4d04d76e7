// A fixed set of KV blocks (block b holds KV rows [b * bs, (b + 1) * bs) of
// every layer) with reference counts and a free list. Pure bookkeeping: it
// never touches KV memory, and after construction it never allocates.
//
// Who holds references: every sequence whose block table lists a block, and
// the prefix cache (RadixCache) for every block in its tree. A block whose
// count drops to zero is free again.
#pragma once

#include <cstdint>
#include <vector>

namespace hearth::kv {

class BlockPool {
 public:
  explicit BlockPool(int32_t n_blocks);

  int32_t n_blocks() const { return int32_t(refs_.size()); }
  int32_t n_free() const { return int32_t(free_.size()); }

  // A free block, now with one reference; -1 when none is free.
  int32_t allocate();
  void ref(int32_t block);
  // Drops one reference; at zero the block is free again. Returns the count left.
  int32_t unref(int32_t block);
  int32_t refs(int32_t block) const;

 private:
  void check(int32_t block) const;

  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;  // a stack; capacity n_blocks from the start
};

}  // namespace hearth::kv

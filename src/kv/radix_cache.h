// The prefix cache: a radix tree over KV blocks (as sglang's), shared by
// every sequence of a BatchEngine. Pure bookkeeping over a BlockPool; it
// never touches KV memory and never allocates after construction.
//
// A node is one block of the pool and the tokens whose KV it holds: a full
// node holds block_size tokens and may have children (the blocks that follow
// it in some cached sequence, told apart by their tokens); a partial node
// holds fewer, the tail of a finished sequence, and is always a leaf. A path
// from the root spells a token prefix whose KV the path's blocks hold.
//
// References: the tree holds one on each node's block, and a sequence one on
// each block in its table. A sequence shares full nodes in place (it never
// writes them: its own writes go past the shared prefix) and copies the rows
// it reuses from a partial or partly matching node into a block of its own.
// A sequence's table is always a root path of full nodes followed by private
// blocks, so a node nobody but the tree references has no referenced
// descendants, and every such node can be evicted, least recently used leaf
// first.
//
// Sliding-window models (as sglang's SWA radix cache): the KV of the
// sliding-window layers lives in a second pool, whose blocks a query needs
// only for the last window - 1 positions before it. A node holds its block of
// the main pool (the global layers, kept for the whole cached prefix) and may
// hold one of the sliding pool (or none: a tombstone). A prefix is usable up
// to a point P only if the sliding blocks of the window before P are all
// present; a match falls back to the longest prefix that has them. Sliding
// blocks are given up on their own, least recently used first, whatever the
// node's place in the tree; the window before each point where a finished
// sequence ended ("pinned") stays until pressure evicts it, the sliding
// blocks a running sequence leaves behind go at once (forget_window_block).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv/block_pool.h"

namespace hearth::kv {

class RadixCache {
 public:
  // block_size: tokens per block, the pool's rows per block. With a sliding
  // pool, window is the sliding-window size in tokens.
  RadixCache(BlockPool& pool, int block_size, BlockPool* sliding_pool = nullptr, int window = 0);

  int block_size() const { return bs_; }

  // What a new sequence that starts with `tokens` can take from the cache.
  struct Match {
    int32_t n_shared = 0;   // whole blocks, used in place (a root path)
    int32_t copy_from = -1; // a cached block whose first copy_rows rows continue the prefix, or -1
    int32_t copy_rows = 0;  // < block_size
    // Sliding pool: the sequence's sliding blocks [sliding_first, n_shared)
    // are the path's (the window before the match), and copy_sliding_from
    // is copy_from's sliding block.
    int32_t sliding_first = 0;
    int32_t copy_sliding_from = -1;
    int64_t tokens(int block_size) const { return int64_t(n_shared) * block_size + copy_rows; }
  };
  // The longest common prefix of `tokens` with the cache, at most max_tokens.
  // Changes nothing.
  Match peek(std::span<const int32_t> tokens, int64_t max_tokens) const;
  // As peek, and takes one reference for the caller on each shared block
  // (written to shared_out, which has room for tokens.size() / block_size)
  // and on copy_from (drop it after copying), and marks the path used. With a
  // sliding pool, also on sliding blocks [sliding_first, n_shared) (written
  // to sliding_out at the same indices) and on copy_sliding_from.
  Match acquire(std::span<const int32_t> tokens, int64_t max_tokens, int32_t* shared_out,
                int32_t* sliding_out = nullptr);

  // Caches a sequence: `tokens` with their KV in `blocks` (block i holds
  // tokens [i * bs, (i + 1) * bs); blocks.size() >= ceil(tokens.size() / bs)).
  // Full blocks the tree lacks become nodes; where the tree already has a
  // block for the same tokens, blocks[i] is replaced by the tree's (the
  // caller's reference moves to it, and the duplicate is freed when nobody
  // else holds it: the KV is the same). A trailing partial block is kept as a
  // partial leaf unless the tree already covers those tokens. The caller
  // keeps its references on blocks[]. A sequence still being extended passes
  // only its full blocks (it will write into its last one).
  //
  // sliding_blocks (sliding pool only; -1 where the sequence no longer holds
  // one) are given to the nodes likewise: a node without a sliding block
  // takes the caller's, one that has a different one replaces the caller's.
  // pinned marks them as the window before a resumable point.
  void insert(std::span<const int32_t> tokens, std::span<int32_t> blocks, std::span<int32_t> sliding_blocks = {},
              bool pinned = false);
  // A running sequence's sliding block that fell out of its window: the tree
  // drops its reference to it unless it is pinned.
  void forget_window_block(int32_t node, int32_t sliding_block);

  // Frees up to n blocks, evicting least recently used leaves that nobody
  // but the tree references. Returns how many were freed.
  int32_t evict(int32_t n);
  // Frees up to n sliding blocks, least recently used first, from nodes
  // anywhere in the tree (they become tombstones). Returns how many.
  int32_t evict_sliding(int32_t n);
  // Drops every node nobody else references.
  void clear() { evict(pool_.n_blocks()); }

  int32_t cached_blocks() const { return n_nodes_; }
  int32_t evictable_blocks() const;  // what evict() could free now
  int32_t cached_sliding_blocks() const;
  int32_t evictable_sliding_blocks() const;  // what evict_sliding() could free now
  int32_t sliding_block(int32_t node) const { return sliding_[size_t(node)]; }
  // Checks the tree's structure and reference counts (tests): throws on a fault.
  void check_invariants() const;

 private:
  bool in_tree(int32_t node) const { return n_tokens_[size_t(node)] > 0; }
  const int32_t* node_tokens(int32_t node) const { return tokens_.data() + size_t(node) * size_t(bs_); }
  // The full child of `node` holding exactly tokens[0, bs), or -1.
  int32_t full_child(int32_t node, const int32_t* tokens) const;
  // Longest common prefix of a node's tokens with tokens[0, n).
  int32_t common(int32_t node, const int32_t* tokens, int64_t n) const;
  Match walk(std::span<const int32_t> tokens, int64_t max_tokens) const;
  // Whether the sliding blocks of the window before `point` are present:
  // path_[lo, n_full) and copy_node (or -1).
  bool window_present(int64_t point, int32_t n_full, int32_t copy_node) const;
  int32_t window_first_block(int64_t point) const;
  void drop_sliding(int32_t node);
  void add_node(int32_t parent, int32_t block, const int32_t* tokens, int32_t n_tokens);
  void remove_node(int32_t node);
  // Removes partial children of `parent` whose tokens are a prefix of
  // tokens[0, n), except a pinned window's when the replacement brings no
  // sliding block. Returns whether a pinned window was removed.
  bool drop_covered_partials(int32_t parent, const int32_t* tokens, int64_t n, bool replacement_has_sliding);
  bool evictable_leaf(int32_t node) const;

  BlockPool& pool_;
  int bs_;
  int32_t root_;  // = n_blocks: the node arrays have one extra entry
  int32_t n_nodes_ = 0;
  uint64_t clock_ = 0;
  std::vector<int32_t> tokens_;   // [n_blocks][bs]
  std::vector<int32_t> n_tokens_; // 0: not in the tree
  std::vector<int32_t> parent_, first_child_, next_sibling_, prev_sibling_;
  std::vector<uint64_t> last_used_;
  std::vector<int32_t> heap_;     // evict()'s candidates, capacity n_blocks
  mutable std::vector<int32_t> path_;  // walk()'s full nodes, capacity n_blocks
  BlockPool* sliding_pool_ = nullptr;
  int window_ = 0;
  std::vector<int32_t> sliding_;  // each node's sliding block, -1: none
  std::vector<uint64_t> sliding_used_;
  std::vector<uint8_t> pinned_;
};

}  // namespace hearth::kv

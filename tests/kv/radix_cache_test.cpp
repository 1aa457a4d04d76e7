// The KV block pool and the prefix cache's radix tree, as bookkeeping alone:
// reference counts, longest-prefix matches, sharing, duplicates, partial
// tails, LRU eviction that never touches a block in use, and (by a random
// simulation of the engine's protocol) that a pool of n_slots x
// blocks_per_slot + 1 blocks never runs out, whatever the cache holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "core/error.h"
#include "kv/block_pool.h"
#include "kv/radix_cache.h"

using namespace hearth;
using namespace hearth::kv;

namespace {

TEST(BlockPool, AllocatesEachBlockOnceAndFreesAtZeroReferences) {
  BlockPool pool(3);
  EXPECT_EQ(pool.n_free(), 3);
  const int32_t a = pool.allocate(), b = pool.allocate(), c = pool.allocate();
  EXPECT_EQ(pool.allocate(), -1);
  std::vector<int32_t> ids = {a, b, c};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 2}));
  pool.ref(b);
  EXPECT_EQ(pool.refs(b), 2);
  EXPECT_EQ(pool.unref(b), 1);
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_EQ(pool.unref(b), 0);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.allocate(), b);
  EXPECT_THROW(pool.unref(7), Error);
  pool.unref(a);
  EXPECT_THROW(pool.unref(a), Error);  // already free
  EXPECT_THROW(pool.ref(a), Error);    // a free block gains no reference
}

// A sequence as the engine holds it: its tokens and its block table.
struct Seq {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;
};

constexpr int kBs = 4;

// Allocates fresh blocks for `tokens` (as if computed), caches it, and lets it go.
Seq compute(BlockPool& pool, const std::vector<int32_t>& tokens) {
  Seq s{tokens, {}};
  for (size_t i = 0; i < (tokens.size() + kBs - 1) / kBs; ++i) s.blocks.push_back(pool.allocate());
  return s;
}

void release(BlockPool& pool, Seq& s) {
  for (int32_t b : s.blocks) pool.unref(b);
  s.blocks.clear();
}

void cache_and_release(BlockPool& pool, RadixCache& cache, Seq s) {
  cache.insert(s.tokens, s.blocks);
  release(pool, s);
}

TEST(RadixCache, MatchesTheLongestPrefixWholeBlocksSharedTheRestCopied) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  const std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // 2 full blocks and a tail of 2
  EXPECT_EQ(cache.peek(t, 9).tokens(kBs), 0);
  Seq s = compute(pool, t);
  const std::vector<int32_t> blocks = s.blocks;
  cache_and_release(pool, cache, s);
  EXPECT_EQ(cache.cached_blocks(), 3);
  for (int32_t b : blocks) EXPECT_EQ(pool.refs(b), 1);  // the tree's own reference
  cache.check_invariants();

  // The same tokens and more: two blocks in place, the tail's rows copied.
  std::vector<int32_t> longer = t;
  longer.insert(longer.end(), {11, 12, 13});
  RadixCache::Match m = cache.peek(longer, int64_t(longer.size()) - 1);
  EXPECT_EQ(m.n_shared, 2);
  EXPECT_EQ(m.copy_from, blocks[2]);
  EXPECT_EQ(m.copy_rows, 2);
  // Capped: never the last token of the prompt itself.
  m = cache.peek(t, 9);
  EXPECT_EQ(m.tokens(kBs), 9);
  m = cache.peek(std::span(t).first(8), 7);  // the second block is partly used: copied, not shared
  EXPECT_EQ(m.n_shared, 1);
  EXPECT_EQ(m.copy_from, blocks[1]);
  EXPECT_EQ(m.copy_rows, 3);
  // A divergence inside the second block.
  const std::vector<int32_t> fork = {1, 2, 3, 4, 5, 6, 99, 8, 9};
  m = cache.peek(fork, 8);
  EXPECT_EQ(m.n_shared, 1);
  EXPECT_EQ(m.copy_rows, 2);
  EXPECT_EQ(m.copy_from, blocks[1]);
  // Nothing in common.
  EXPECT_EQ(cache.peek(std::vector<int32_t>{2, 1, 3, 4, 5}, 4).tokens(kBs), 0);

  // acquire takes references for the caller and hands the shared blocks out.
  int32_t shared[4] = {-1, -1, -1, -1};
  m = cache.acquire(longer, int64_t(longer.size()) - 1, shared);
  EXPECT_EQ(shared[0], blocks[0]);
  EXPECT_EQ(shared[1], blocks[1]);
  EXPECT_EQ(pool.refs(blocks[0]), 2);
  EXPECT_EQ(pool.refs(blocks[2]), 2);  // the copy source, held until copied
  pool.unref(blocks[2]);
  cache.check_invariants();
  pool.unref(blocks[0]);
  pool.unref(blocks[1]);
}

TEST(RadixCache, ConversationsShareTheirCommonBlocks) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  const std::vector<int32_t> system = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int32_t> a = system, b = system;
  a.insert(a.end(), {20, 21, 22, 23, 24});
  b.insert(b.end(), {30, 31, 32, 33, 34, 35});
  Seq sa = compute(pool, a);
  cache_and_release(pool, cache, sa);
  EXPECT_EQ(cache.cached_blocks(), 4);
  // b starts from a's first two blocks and computes the rest itself.
  Seq sb{b, std::vector<int32_t>(2)};
  const RadixCache::Match m = cache.acquire(b, int64_t(b.size()) - 1, sb.blocks.data());
  ASSERT_EQ(m.n_shared, 2);
  EXPECT_EQ(m.copy_rows, 0);
  sb.blocks.push_back(pool.allocate());
  sb.blocks.push_back(pool.allocate());
  cache_and_release(pool, cache, sb);
  // One root path of two blocks, two branches: a's tail, b's full block and its tail.
  EXPECT_EQ(cache.cached_blocks(), 2 + 2 + 2);
  cache.check_invariants();
  EXPECT_EQ(pool.n_free(), 16 - 6);
}

TEST(RadixCache, ABlockComputedTwiceIsKeptOnce) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  const std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8};
  // Two sequences computed the same blocks at once; the first is cached while the second runs.
  Seq first = compute(pool, t), second = compute(pool, t);
  const std::vector<int32_t> kept = first.blocks, duplicate = second.blocks;
  cache.insert(first.tokens, first.blocks);
  release(pool, first);
  cache.insert(second.tokens, second.blocks);  // a running sequence offering its full blocks
  EXPECT_EQ(second.blocks, kept);                 // now it uses the tree's
  for (int32_t b : duplicate) EXPECT_EQ(pool.refs(b), 0) << "duplicate block " << b << " is freed";
  for (int32_t b : kept) EXPECT_EQ(pool.refs(b), 2);
  release(pool, second);
  EXPECT_EQ(cache.cached_blocks(), 2);
  EXPECT_EQ(pool.n_free(), 14);
  cache.check_invariants();
}

TEST(RadixCache, PartialTailsGiveWayToLongerOnes) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  cache_and_release(pool, cache, compute(pool, {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(cache.cached_blocks(), 2);
  // A shorter tail is covered: not cached again.
  cache_and_release(pool, cache, compute(pool, {1, 2, 3, 4, 5}));
  EXPECT_EQ(cache.cached_blocks(), 2);
  // A longer one replaces it; a full block replaces both.
  cache_and_release(pool, cache, compute(pool, {1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(cache.cached_blocks(), 2);
  EXPECT_EQ(cache.peek(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 0}, 7).tokens(kBs), 7);
  cache_and_release(pool, cache, compute(pool, {1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(cache.cached_blocks(), 2);
  EXPECT_EQ(pool.n_free(), 14);
  cache.check_invariants();
}

TEST(RadixCache, EvictsLeastRecentlyUsedLeavesFirst) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  Seq x = compute(pool, {1, 1, 1, 1, 2, 2, 2, 2});
  Seq y = compute(pool, {3, 3, 3, 3, 4, 4, 4, 4});
  Seq z = compute(pool, {5, 5, 5, 5});
  const std::vector<int32_t> xb = x.blocks, yb = y.blocks, zb = z.blocks;
  cache_and_release(pool, cache, x);
  cache_and_release(pool, cache, y);
  cache_and_release(pool, cache, z);
  // x is used again: y is now the least recently used, then z, then x.
  int32_t shared[2];
  cache.acquire(std::vector<int32_t>{1, 1, 1, 1, 2, 2, 2, 2, 9}, 8, shared);
  pool.unref(shared[0]);
  pool.unref(shared[1]);
  EXPECT_EQ(cache.evict(1), 1);
  EXPECT_EQ(pool.refs(yb[1]), 0);  // y's leaf first, not its root block
  EXPECT_EQ(pool.refs(yb[0]), 1);
  EXPECT_EQ(cache.evict(1), 1);
  EXPECT_EQ(pool.refs(yb[0]), 0);  // then y's first block, now a leaf older than z
  EXPECT_EQ(cache.evict(1), 1);
  EXPECT_EQ(pool.refs(zb[0]), 0);
  EXPECT_EQ(pool.refs(xb[0]), 1);
  EXPECT_EQ(pool.refs(xb[1]), 1);
  EXPECT_EQ(cache.evict(5), 2);  // only x is left
  EXPECT_EQ(cache.cached_blocks(), 0);
  EXPECT_EQ(pool.n_free(), 16);
}

TEST(RadixCache, NeverEvictsABlockInUse) {
  BlockPool pool(16);
  RadixCache cache(pool, kBs);
  const std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  Seq s = compute(pool, t);
  const std::vector<int32_t> blocks = s.blocks;
  cache_and_release(pool, cache, s);
  cache_and_release(pool, cache, compute(pool, {1, 2, 3, 4, 50, 51, 52, 53}));  // a sibling branch
  // A sequence uses the first two blocks of t.
  int32_t shared[3];
  ASSERT_EQ(cache.acquire(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 0}, 8, shared).n_shared, 2);
  EXPECT_EQ(cache.evictable_blocks(), 2);  // t's third block and the sibling
  EXPECT_EQ(cache.evict(100), 2);
  EXPECT_EQ(pool.refs(blocks[0]), 2);
  EXPECT_EQ(pool.refs(blocks[1]), 2);
  EXPECT_EQ(pool.refs(blocks[2]), 0);
  cache.check_invariants();
  pool.unref(shared[0]);
  pool.unref(shared[1]);
  EXPECT_EQ(cache.evict(100), 2);
  EXPECT_EQ(pool.n_free(), 16);
}

// The engine's protocol, at random: slots start from the cache (sharing
// whole blocks, copying a partial one), grow a token at a time, offer their
// full blocks as they fill, and are released into the cache. With a pool of
// n_slots x blocks_per_slot + 1, no allocation ever fails, every cached
// block not in use can be evicted, and a match always spells the tokens.
TEST(RadixCache, APoolOfEverySlotsContextNeverRunsOut) {
  const int n_slots = 3, n_ctx = 22, bps = (n_ctx + kBs - 1) / kBs;
  BlockPool pool(n_slots * bps + 1);
  RadixCache cache(pool, kBs);
  std::mt19937 rng(7);
  struct Slot {
    bool active = false;
    std::vector<int32_t> tokens, blocks, target;
    size_t cached = 0;  // full blocks offered
  };
  std::vector<Slot> slots(n_slots);
  std::vector<std::vector<int32_t>> history;  // earlier sequences, reused as prefixes
  // What each block holds, to check that shared blocks spell the right tokens.
  std::vector<std::vector<int32_t>> content(size_t(pool.n_blocks()));
  auto allocate = [&]() {
    if (pool.n_free() == 0) cache.evict(1);
    const int32_t b = pool.allocate();
    if (b < 0) throw std::runtime_error("out of blocks");
    content[size_t(b)].clear();
    return b;
  };
  for (int op = 0; op < 20000; ++op) {
    Slot& s = slots[rng() % n_slots];
    if (!s.active) {
      // A new sequence: often an earlier one with a different ending.
      s.target.clear();
      if (!history.empty() && rng() % 4 != 0) {
        const auto& h = history[rng() % history.size()];
        s.target.assign(h.begin(), h.begin() + ptrdiff_t(rng() % (h.size() + 1)));
      }
      while (s.target.size() < size_t(1 + rng() % n_ctx)) s.target.push_back(int32_t(rng() % 3));
      s.target.resize(std::min<size_t>(s.target.size(), n_ctx));
      const int64_t want = cache.peek(s.target, int64_t(s.target.size()) - 1).tokens(kBs);
      s.blocks.assign(size_t(bps), -1);
      const RadixCache::Match m = cache.acquire(s.target, want, s.blocks.data());
      ASSERT_EQ(m.tokens(kBs), want);
      s.blocks.resize(size_t(m.n_shared));
      for (int32_t i = 0; i < m.n_shared; ++i)
        ASSERT_EQ(content[size_t(s.blocks[size_t(i)])], std::vector<int32_t>(s.target.begin() + i * kBs, s.target.begin() + (i + 1) * kBs));
      if (m.copy_rows > 0) {
        const int32_t b = allocate();
        content[size_t(b)].assign(content[size_t(m.copy_from)].begin(), content[size_t(m.copy_from)].begin() + m.copy_rows);
        ASSERT_EQ(content[size_t(b)], std::vector<int32_t>(s.target.begin() + m.n_shared * kBs, s.target.begin() + want));
        pool.unref(m.copy_from);
        s.blocks.push_back(b);
      }
      s.tokens.assign(s.target.begin(), s.target.begin() + want);
      s.cached = size_t(m.n_shared);
      s.active = true;
    } else if (s.tokens.size() < s.target.size() && rng() % 8 != 0) {
      // One more token computed (into a new block at a boundary).
      if (s.tokens.size() % kBs == 0) s.blocks.push_back(allocate());
      ASSERT_EQ(pool.refs(s.blocks.back()), 1) << "a block being written is shared";
      content[size_t(s.blocks.back())].push_back(s.target[s.tokens.size()]);
      s.tokens.push_back(s.target[s.tokens.size()]);
      if (s.tokens.size() / kBs > s.cached) {
        s.cached = s.tokens.size() / kBs;
        cache.insert(std::span(s.tokens).first(s.cached * kBs), std::span(s.blocks).first(s.cached));
      }
    } else {
      cache.insert(s.tokens, s.blocks);
      for (int32_t b : s.blocks) pool.unref(b);
      history.push_back(s.tokens);
      if (history.size() > 40) history.erase(history.begin());
      s = Slot{};
    }
    // What the slots may still need is always there, free or evictable.
    int64_t need = 0;
    for (const Slot& t : slots) need += bps - (t.active ? int64_t(t.blocks.size()) : 0);
    ASSERT_GE(pool.n_free() + cache.evictable_blocks(), need) << "op " << op;
    if (op % 97 == 0) cache.check_invariants();
  }
  cache.check_invariants();
  EXPECT_GT(cache.cached_blocks(), 0);
}

}  // namespace

// Sliding-window accounting (window 6, blocks of 4): a sequence's sliding
// blocks go into the tree as it offers them; a prefix is usable only up to a
// point whose window (the 5 positions before it) the tree still holds.
namespace {

constexpr int kWindow = 6;

// A sequence with blocks in both pools, as the engine holds it.
struct SlidingSeq {
  std::vector<int32_t> tokens, blocks, sliding;
};

SlidingSeq compute_sliding(BlockPool& pool, BlockPool& sliding, const std::vector<int32_t>& tokens) {
  SlidingSeq s{tokens, {}, {}};
  for (size_t i = 0; i < (tokens.size() + kBs - 1) / kBs; ++i) {
    s.blocks.push_back(pool.allocate());
    s.sliding.push_back(sliding.allocate());
  }
  return s;
}

// Drops the sliding blocks the next query (at position tokens.size()) no
// longer sees, as the engine does, telling the tree when it holds them.
void trim(BlockPool& sliding, RadixCache& cache, SlidingSeq& s, bool blocks_in_tree) {
  const int64_t keep_from = std::max<int64_t>(0, int64_t(s.tokens.size()) - kWindow + 1) / kBs;
  for (int64_t b = 0; b < keep_from; ++b) {
    if (s.sliding[size_t(b)] < 0) continue;
    if (blocks_in_tree) cache.forget_window_block(s.blocks[size_t(b)], s.sliding[size_t(b)]);
    sliding.unref(s.sliding[size_t(b)]);
    s.sliding[size_t(b)] = -1;
  }
}

void release_sliding(BlockPool& pool, BlockPool& sliding, SlidingSeq& s) {
  for (int32_t b : s.blocks) pool.unref(b);
  for (int32_t b : s.sliding)
    if (b >= 0) sliding.unref(b);
  s.blocks.clear();
  s.sliding.clear();
}

TEST(RadixCacheSliding, KeepsTheWindowBeforeAResumablePointAndFallsBackWithoutIt) {
  BlockPool pool(32), sliding(32);
  RadixCache cache(pool, kBs, &sliding, kWindow);
  // 14 tokens: blocks 0-2 full, block 3 holds 2. The next query (at 14) sees
  // positions 9-13: blocks 2 and 3; blocks 0 and 1 are given back.
  std::vector<int32_t> t(14);
  for (int i = 0; i < 14; ++i) t[size_t(i)] = 100 + i;
  SlidingSeq s = compute_sliding(pool, sliding, t);
  const std::vector<int32_t> blocks = s.blocks, sliding_blocks = s.sliding;
  trim(sliding, cache, s, false);
  EXPECT_EQ(sliding.refs(sliding_blocks[0]), 0);
  EXPECT_EQ(sliding.refs(sliding_blocks[1]), 0);
  cache.insert(s.tokens, s.blocks, s.sliding, /*pinned=*/true);
  release_sliding(pool, sliding, s);
  cache.check_invariants();
  EXPECT_EQ(cache.cached_blocks(), 4);
  EXPECT_EQ(cache.cached_sliding_blocks(), 2);
  EXPECT_EQ(sliding.n_free(), 32 - 2);
  EXPECT_EQ(pool.n_free(), 32 - 4);

  // The same conversation, extended: it resumes at its end (14), taking the
  // global blocks of the whole prefix and the sliding blocks of its window.
  std::vector<int32_t> next = t;
  next.insert(next.end(), {7, 8, 9});
  RadixCache::Match m = cache.peek(next, int64_t(next.size()) - 1);
  EXPECT_EQ(m.tokens(kBs), 14);
  EXPECT_EQ(m.n_shared, 3);
  EXPECT_EQ(m.sliding_first, 2);
  EXPECT_EQ(m.copy_sliding_from, sliding_blocks[3]);

  // A branch from position 12 (the window 7-11: blocks 1 and 2): block 1's
  // sliding block is gone, so the longest usable prefix is 0 (8 needs 3-7,
  // 4 needs 0-3: blocks 0 and 1 are gone too).
  std::vector<int32_t> branch(t.begin(), t.begin() + 12);
  branch.insert(branch.end(), {1, 2, 3});
  m = cache.peek(branch, int64_t(branch.size()) - 1);
  EXPECT_EQ(m.tokens(kBs), 0);
  // Position 13 (window 8-12: blocks 2, 3) is usable.
  std::vector<int32_t> near(t.begin(), t.begin() + 13);
  near.push_back(5);
  m = cache.peek(near, 13);
  EXPECT_EQ(m.tokens(kBs), 13);

  // acquire: references on the global path, on the window's sliding blocks
  // and on both copy sources.
  int32_t shared[8], shared_sliding[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  m = cache.acquire(next, int64_t(next.size()) - 1, shared, shared_sliding);
  ASSERT_EQ(m.tokens(kBs), 14);
  EXPECT_EQ(shared_sliding[0], -1);
  EXPECT_EQ(shared_sliding[1], -1);
  EXPECT_EQ(shared_sliding[2], sliding_blocks[2]);
  EXPECT_EQ(sliding.refs(sliding_blocks[2]), 2);
  EXPECT_EQ(sliding.refs(sliding_blocks[3]), 2);  // copy source
  EXPECT_EQ(pool.refs(blocks[3]), 2);
  sliding.unref(sliding_blocks[3]);
  pool.unref(blocks[3]);
  // The resumed sequence moves on: its pinned window stays in the tree.
  SlidingSeq r{next, {shared[0], shared[1], shared[2], pool.allocate(), pool.allocate()},
               {-1, -1, shared_sliding[2], sliding.allocate(), sliding.allocate()}};
  next.insert(next.end(), {10, 11});  // 19 tokens: the next query sees 14-18, blocks 3 and 4
  r.tokens = next;
  trim(sliding, cache, r, /*blocks_in_tree=*/true);
  EXPECT_EQ(sliding.refs(sliding_blocks[2]), 1);  // pinned: the tree keeps it
  cache.insert(r.tokens, r.blocks, r.sliding);      // offered while running: not pinned
  release_sliding(pool, sliding, r);
  cache.check_invariants();
  EXPECT_EQ(cache.peek(near, 13).tokens(kBs), 13);  // the old end's window is still there

  // Pressure: sliding blocks go least recently used first, anywhere in the
  // tree, and the matches fall back accordingly; the global blocks stay.
  const int32_t before = cache.cached_blocks();
  EXPECT_EQ(cache.evictable_sliding_blocks(), cache.cached_sliding_blocks());
  // (t's partial tail gave way to the resumed sequence's full block 3, which
  // holds the same rows.) The least recently used: the old window's block 2.
  EXPECT_EQ(cache.evict_sliding(1), 1);
  EXPECT_EQ(sliding.refs(sliding_blocks[2]), 0);
  EXPECT_EQ(cache.cached_blocks(), before);
  EXPECT_EQ(cache.peek(near, 13).tokens(kBs), 0);
  std::vector<int32_t> again = next;
  again.push_back(3);
  EXPECT_EQ(cache.peek(again, int64_t(again.size()) - 1).tokens(kBs), int64_t(next.size()));
  // Evicting the global blocks frees the sliding ones with them.
  cache.clear();
  EXPECT_EQ(cache.cached_blocks(), 0);
  EXPECT_EQ(pool.n_free(), 32);
  EXPECT_EQ(sliding.n_free(), 32);
}

// A running sequence offers its full blocks: those that fall out of its
// window leave the tree with it, unless they are a resumable point's window.
TEST(RadixCacheSliding, ARunningSequenceLeavesNoSlidingBlocksBehindItsWindow) {
  BlockPool pool(64), sliding(64);
  RadixCache cache(pool, kBs, &sliding, kWindow);
  SlidingSeq s{{}, {}, {}};
  for (int step = 0; step < 10; ++step) {
    // Two tokens a step: a block when the sequence needs one.
    for (int i = 0; i < 2; ++i) s.tokens.push_back(200 + int32_t(s.tokens.size()));
    while (s.blocks.size() * kBs < s.tokens.size()) {
      s.blocks.push_back(pool.allocate());
      s.sliding.push_back(sliding.allocate());
    }
    trim(sliding, cache, s, /*blocks_in_tree=*/true);
    const size_t full = s.tokens.size() / kBs;
    cache.insert(std::span(s.tokens).first(full * kBs), std::span(s.blocks).first(full),
                 std::span(s.sliding).first(full));
    cache.check_invariants();
    // Held by the sequence: the blocks of positions [len - 5, len).
    const int64_t len = int64_t(s.tokens.size());
    const int64_t first = std::max<int64_t>(0, len - kWindow + 1) / kBs;
    const int64_t held = int64_t(s.blocks.size()) - first;
    EXPECT_EQ(64 - sliding.n_free(), held) << "step " << step;
  }
  release_sliding(pool, sliding, s);
  EXPECT_EQ(sliding.n_free(), 64 - cache.cached_sliding_blocks());
  EXPECT_LE(cache.cached_sliding_blocks(), 2);
  cache.clear();
  EXPECT_EQ(sliding.n_free(), 64);
}

}  // namespace

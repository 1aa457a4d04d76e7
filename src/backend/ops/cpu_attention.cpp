// CpuBackend's attention. Two paths:
//  - tiled: f32/f16/bf16 and q8_0/q4_0 K and V caches. A work item is a run
//    of query tokens of one sequence times the query heads sharing one KV
//    head; a block of keys is read once for all the item's queries: float K
//    rows converted to f32 and dotted by SIMD kernels, quantized K rows
//    dotted in place in their block format (vec_dot, as ggml), V rows
//    converted to f32 for SIMD weighted sums.
//  - grouped: any cache type (the quantized ones dot Q in the cache's own
//    block format, as ggml); one token's heads sharing a KV head at a time.
// Both keep ggml's semantics: Q rounded to K's dot-product type; unfused,
// softmax with the sum in double and probabilities rounded to f16 for an f16
// V; fused (flash), an online softmax. Attention sinks (gpt-oss) join both
// softmaxes as ggml adds them.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/ops/cpu_backend.h"
#include "core/error.h"
#include "core/fp16.h"

namespace hearth::backend {
namespace {

// Where one query token's keys live and which of them it sees.
struct TokenKeys {
  TokenKeys(const AttentionParams& p, int64_t token)
      : table(p.block_tables ? p.block_tables[token] : nullptr),
        shift(p.kv_block_shift),
        mask((int64_t(1) << p.kv_block_shift) - 1) {
    const int32_t pos = p.positions[token];
    last = p.causal ? std::min<int64_t>(p.last_visible ? p.last_visible[token] : pos, p.n_kv - 1) : p.n_kv - 1;
    first = p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
  }
  // KV row of key j: through the token's block table when paged, else j.
  int64_t row(int64_t j) const { return table ? (int64_t(table[j >> shift]) << shift) | (j & mask) : j; }
  bool sees_nothing() const { return last < first; }

  const int32_t* table;
  int shift;
  int64_t mask;
  int64_t first = 0, last = -1;  // keys [first, last] are visible
};

// Folds a sink into an online softmax after the last key, as ggml's
// flash_attn_ext: a key of score `sink` whose value is zero.
template <typename Scale>
void fold_sink(float sink, float& m, float& sum, float* acc, Scale&& scale) {
  float ms = 1.0f, vs = 1.0f;
  if (sink > m) {
    ms = std::exp(m - sink);
    m = sink;
    scale(ms, acc);
  } else {
    vs = std::exp(sink - m);
  }
  sum = sum * ms + vs;
}

}  // namespace

// One stripe's online-softmax state in a stripes buffer: per query the
// running maximum, the sum of exponentials, the unnormalised sum of V rows.
CpuBackend::FlashState CpuBackend::flash_state(float* stripes, int stripe, int hd) const {
  const size_t floats = size_t(kMaxTileQueries) * size_t(hd + 2);
  float* base = stripes + size_t(stripe) * floats;
  return FlashState{base, base + kMaxTileQueries, base + 2 * kMaxTileQueries, kMaxTileQueries};
}

void CpuBackend::FlashState::clear() const {
  std::fill(m, m + n_queries, -std::numeric_limits<float>::infinity());
}

// into <- into (+) from, the online softmax's merge; a query whose maximum is
// -inf has seen no key there (its sum and acc are not read).
void CpuBackend::merge_flash(const FlashState& into, const FlashState& from, int hd) const {
  for (int i = 0; i < from.n_queries && i < into.n_queries; ++i) {
    if (from.m[i] == -std::numeric_limits<float>::infinity()) continue;
    float* a = into.acc + int64_t(i) * hd;
    const float* b = from.acc + int64_t(i) * hd;
    if (into.m[i] == -std::numeric_limits<float>::infinity()) {
      into.m[i] = from.m[i];
      into.sum[i] = from.sum[i];
      std::copy(b, b + hd, a);
      continue;
    }
    const float m = std::max(into.m[i], from.m[i]);
    const float fa = std::exp(into.m[i] - m), fb = std::exp(from.m[i] - m);
    kernels_.scale(hd, fa, a);
    kernels_.axpy(hd, fb, b, a);
    into.sum[i] = into.sum[i] * fa + from.sum[i] * fb;
    into.m[i] = m;
  }
}

// Merges the stripes in order into the first, folds the sinks, normalises and
// writes the tile's outputs.
void CpuBackend::finish_flash(const AttentionParams& p, int64_t token0, int head0, int n_group, int n_queries,
                              float* stripes, int n_stripes) const {
  const int hd = p.head_dim;
  FlashState total = flash_state(stripes, 0, hd);
  total.n_queries = n_queries;
  for (int w = 1; w < n_stripes; ++w) merge_flash(total, flash_state(stripes, w, hd), hd);
  for (int i = 0; i < n_queries; ++i) {
    float* acc = total.acc + int64_t(i) * hd;
    float* out = p.out + ((token0 + i / n_group) * p.n_head + head0 + i % n_group) * hd;
    if (total.m[i] == -std::numeric_limits<float>::infinity()) {  // saw no key
      total.sum[i] = 0.0f;
      std::fill(acc, acc + hd, 0.0f);
    }
    if (p.sinks)
      fold_sink(p.sinks[head0 + i % n_group], total.m[i], total.sum[i], acc,
                [&](float f, float* a) { kernels_.scale(hd, f, a); });
    const float inv = total.sum[i] == 0.0f ? 0.0f : 1.0f / total.sum[i];
    kernels_.scale(hd, inv, acc);
    std::copy(acc, acc + hd, out);
  }
}

void CpuBackend::attend_group(const AttentionParams& p, int64_t token, int head0, int n_group,
                              ThreadScratch& scratch) const {
  const int hd = p.head_dim;
  const int kv_head = head0 / (p.n_head / p.n_head_kv);
  const TokenKeys keys(p, token);
  const int64_t first = keys.first, last = keys.last;
  const float* q = p.q + (token * p.n_head + head0) * hd;
  float* out = p.out + (token * p.n_head + head0) * hd;
  if (keys.sees_nothing()) {
    std::fill(out, out + int64_t(n_group) * hd, 0.0f);
    return;
  }

  // Q in K's dot-product type (f16 for an f16 cache, Q8_0 for q8_0/q4_0), as ggml.
  const DType kq_type = kernels_.vec_dot_type(p.k.type);
  const size_t q_bytes = row_bytes(kq_type, hd);
  for (int g = 0; g < n_group; ++g)
    kernels_.quantize_act_for(kq_type)(q + g * hd, scratch.q_conv.data() + g * q_bytes, hd);
  const auto k_dot = kernels_.vec_dot_for(p.k.type);
  const size_t k_head_offset = row_bytes(p.k.type, int64_t(kv_head) * hd);
  const size_t v_head_offset = row_bytes(p.v.type, int64_t(kv_head) * hd);
  const auto dequantize_v = kernels_.dequantize_for(p.v.type);
  // The group's scores against key j, and key j's value row: each K and V
  // row is read once for all the query heads that share it.
  auto scores_of = [&](int64_t j, float* s) {
    const uint8_t* k_row = p.k.data + keys.row(j) * p.k.row_bytes + k_head_offset;
    for (int g = 0; g < n_group; ++g) {
      s[g] = k_dot(hd, k_row, scratch.q_conv.data() + g * q_bytes) * p.scale;
      if (p.softcap != 0.0f) s[g] = p.softcap * std::tanh(s[g] / p.softcap);
    }
  };
  float* v_row = scratch.v_row.data();
  auto load_v = [&](int64_t j) { dequantize_v(p.v.data + keys.row(j) * p.v.row_bytes + v_head_offset, v_row, hd); };
  float* acc = scratch.acc.data();  // [n_group][hd]
  std::fill(acc, acc + int64_t(n_group) * hd, 0.0f);

  if (p.flash) {
    // Online softmax over the keys in one pass (ggml's flash_attn_ext).
    float m[kMaxHeadGroup], sum[kMaxHeadGroup], s[kMaxHeadGroup];
    std::fill(m, m + n_group, -std::numeric_limits<float>::infinity());
    std::fill(sum, sum + n_group, 0.0f);
    for (int64_t j = first; j <= last; ++j) {
      scores_of(j, s);
      load_v(j);
      for (int g = 0; g < n_group; ++g) {
        float ms = 1.0f, vs = 1.0f;
        if (s[g] > m[g]) {
          ms = std::exp(m[g] - s[g]);
          m[g] = s[g];
          kernels_.scale(hd, ms, acc + g * hd);
        } else {
          vs = std::exp(s[g] - m[g]);
        }
        kernels_.axpy(hd, vs, v_row, acc + g * hd);
        sum[g] = sum[g] * ms + vs;
      }
    }
    if (p.sinks)
      for (int g = 0; g < n_group; ++g)
        fold_sink(p.sinks[head0 + g], m[g], sum[g], acc + g * hd, [&](float f, float* a) { kernels_.scale(hd, f, a); });
    for (int g = 0; g < n_group; ++g) {
      const float inv = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
      for (int d = 0; d < hd; ++d) out[g * hd + d] = acc[g * hd + d] * inv;
    }
    return;
  }

  // Two passes as ggml's unfused path: scores, softmax (sum in double), then
  // the probabilities rounded to V's dot-product type (f16 for an f16 cache).
  float* scores = scratch.scores.data();  // [n_group][max_ctx]
  float s[kMaxHeadGroup];
  for (int64_t j = first; j <= last; ++j) {
    scores_of(j, s);
    for (int g = 0; g < n_group; ++g) scores[g * max_ctx_ + j] = s[g];
  }
  for (int g = 0; g < n_group; ++g)
    kernels_.softmax(scores + g * max_ctx_ + first, last - first + 1, p.sinks ? p.sinks + head0 + g : nullptr,
                     p.v.type == DType::F16);
  for (int64_t j = first; j <= last; ++j) {
    bool loaded = false;
    for (int g = 0; g < n_group; ++g) {
      const float pj = scores[g * max_ctx_ + j];
      if (pj == 0.0f) continue;
      if (!loaded) load_v(j), loaded = true;
      kernels_.axpy(hd, pj, v_row, acc + g * hd);
    }
  }
  std::copy(acc, acc + int64_t(n_group) * hd, out);
}

bool CpuBackend::can_tile_attention(const AttentionParams& p) const {
  const DType kq = kernels_.vec_dot_type(p.k.type);
  const auto is_float = [](DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; };
  const auto is_cache_quant = [](DType t) { return t == DType::Q8_0 || t == DType::Q4_0; };
  // K rows and the queries (in K's dot type) are both converted to f32.
  // V rows are dequantized.
  const bool k_ok = (is_float(p.k.type) || is_cache_quant(p.k.type)) && kernels_.dequantize_for(p.k.type) != nullptr &&
                    kernels_.dequantize_for(kq) != nullptr;
  return k_ok && (is_float(p.v.type) || is_cache_quant(p.v.type)) && kernels_.dequantize_for(p.v.type) != nullptr;
}

void CpuBackend::attend_tile(const AttentionParams& p, int64_t token0, int n_tokens, int head0, int n_group,
                             ThreadScratch& scratch, int only_stripe, float* stripe_out) const {
  const int hd = p.head_dim;
  // The item's heads may span several KV heads (a decode step takes them
  // all, so that each cache row is read once, front to back).
  const int per_kv = p.n_head / p.n_head_kv;
  const int kv_head0 = head0 / per_kv;
  const int n_kv_heads = (head0 + n_group - 1) / per_kv - kv_head0 + 1;
  const int n_queries = n_tokens * n_group;  // query i: token i / n_group, head head0 + i % n_group
  // The KV head of query i, counted from kv_head0.
  const auto kv_of = [&](int i) { return (head0 + i % n_group) / per_kv - kv_head0; };
  // The tile's tokens share one sequence, so key rows come from the first's
  // table. Each token's visible keys [first, last]; the item's union [lo, hi].
  const TokenKeys keys(p, token0);
  int64_t first[kMaxTileTokens], last[kMaxTileTokens];
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
  for (int t = 0; t < n_tokens; ++t) {
    const TokenKeys token_keys(p, token0 + t);
    first[t] = token_keys.first;
    last[t] = token_keys.last;
    if (!token_keys.sees_nothing()) lo = std::min(lo, first[t]), hi = std::max(hi, last[t]);
  }
  // Key blocks start at multiples of kKeyBlock whatever the tile holds, so a
  // token's result never depends on its tile mates (the online softmax
  // rescales at block boundaries).
  // Keys below the first visible one are never read: a sliding-window
  // layer's KV may no longer hold them (their block freed or reused).
  const int64_t visible_lo = lo;
  if (hi >= 0) lo = lo / kKeyBlock * kKeyBlock;

  // Queries in K's dot-product type (f16 for f16 K, Q8_0 for q8_0/q4_0 K),
  // as the f32 values of that type.
  const DType kq_type = kernels_.vec_dot_type(p.k.type);
  const size_t q_bytes = row_bytes(kq_type, hd);
  float* q = scratch.tile_q.data();
  float* acc = scratch.tile_acc.data();
  uint8_t* q_conv = scratch.q_conv.data();
  for (int i = 0; i < n_queries; ++i) {
    const float* src = p.q + ((token0 + i / n_group) * p.n_head + head0 + i % n_group) * hd;
    kernels_.quantize_act_for(kq_type)(src, q_conv + i * q_bytes, hd);
    kernels_.dequantize_for(kq_type)(q_conv + i * q_bytes, q + i * hd, hd);
  }
  if (!p.flash) std::fill(acc, acc + int64_t(n_queries) * hd, 0.0f);

  const size_t k_head_offset = row_bytes(p.k.type, int64_t(kv_head0) * hd), k_head_bytes = row_bytes(p.k.type, hd);
  const size_t v_head_offset = row_bytes(p.v.type, int64_t(kv_head0) * hd), v_head_bytes = row_bytes(p.v.type, hd);
  const auto dequantize_k = kernels_.dequantize_for(p.k.type);
  const auto dequantize_v = kernels_.dequantize_for(p.v.type);
  const int64_t head_block = int64_t(kKeyBlock) * hd;  // floats of one KV head's block
  float* kf = scratch.tile_k.data();  // [n_kv_heads][kKeyBlock][hd]
  float* kt = scratch.tile_kt.data();  // kf transposed: [n_kv_heads][hd][kKeyBlock]
  float* vf = scratch.tile_v.data();
  auto load_rows = [&](const KvView& view, size_t head_offset, size_t head_bytes, decltype(dequantize_k) dequantize,
                       int64_t j0, int64_t n_rows, float* dst) {
    for (int64_t r = 0; r < n_rows; ++r) {
      for (int h = 0; h < n_kv_heads; ++h) {
        float* out = dst + h * head_block + r * hd;
        if (j0 + r < visible_lo)
          std::fill(out, out + hd, 0.0f);  // masked for every query: contributes 0
        else
          dequantize(view.data + keys.row(j0 + r) * view.row_bytes + head_offset + h * head_bytes, out, hd);
      }
    }
  };
  // Scores of every query that sees keys [j0, j0 + n), scaled, capped; keys
  // a query's token does not see get -inf. The block is converted to f32
  // (a q8_0/q4_0 K too: its values times the block scales, dotted with the
  // query's own q8_0 values, are ggml's integer dot up to the order of the
  // float sums) and transposed, and each query is dotted with its KV head's.
  static_assert(kKeyBlock == cpu::Kernels::kScoreBlock);  // the transposed blocks' width
  constexpr int kBlock = cpu::Kernels::kScoreBlock;
  float scores_block[kMaxTileQueries][kBlock];
  auto load_k = [&](int64_t j0, int64_t n) {
    load_rows(p.k, k_head_offset, k_head_bytes, dequantize_k, j0, n, kf);
    for (int h = 0; h < n_kv_heads; ++h) kernels_.transpose_block(hd, kf + h * head_block, n, kt + h * head_block);
  };
  auto sees_block = [&](int i, int64_t j0, int64_t n) {
    const int t = i / n_group;
    return last[t] >= first[t] && j0 <= last[t] && j0 + n - 1 >= first[t];
  };
  // The queries that see keys [j0, j0 + n), by KV head, kMaxDotQueries at a
  // time: fn(head, query indices, count).
  auto for_query_batches = [&](int64_t j0, int64_t n, auto&& fn) {
    for (int h = 0; h < n_kv_heads; ++h) {
      int batch[cpu::Kernels::kMaxDotQueries];
      int n_batch = 0;
      for (int i = 0; i < n_queries; ++i) {
        if (kv_of(i) != h || !sees_block(i, j0, n)) continue;
        batch[n_batch++] = i;
        if (n_batch == cpu::Kernels::kMaxDotQueries) fn(h, batch, n_batch), n_batch = 0;
      }
      if (n_batch > 0) fn(h, batch, n_batch);
    }
  };
  auto block_scores = [&](int64_t j0, int64_t n) {
    for (int i = 0; i < n_queries; ++i) {
      if (!sees_block(i, j0, n)) continue;
      const float* qi = q + i * hd;  // each key's 16 running sums hide the latency: one query at a time
      kernels_.dot_columns(hd, &qi, 1, kt + kv_of(i) * head_block, scores_block[i]);
      const int t = i / n_group;
      const auto in_block = [&](int64_t j) { return int(std::clamp<int64_t>(j - j0, 0, n)); };
      kernels_.score_block(scores_block[i], int(n), p.scale, p.softcap, in_block(first[t]), in_block(last[t] + 1));
    }
  };

  if (p.flash) {
    // Keys go in chunks of kSplitKeys. Chunk c's online softmax starts
    // afresh and is merged into stripe c % kSplitWays, in chunk order; the
    // stripes are then merged in order (stripe 0, then 1, ...). A token's
    // result depends only on its own keys, not on the batch or the thread
    // count, and a lone item (a decode step over one KV head) can be split
    // over threads by stripe (only_stripe; finish_flash merges them) with
    // the same bits. Here the stripes are walked one after the other: stripe
    // 0 is the running total, each later one is built in `stripe` and merged.
    const FlashState chunk_state{scratch.tile_m.data(), scratch.tile_sum.data(), acc, n_queries};
    const FlashState total = flash_state(only_stripe >= 0 ? stripe_out : scratch.stripes.data(), 0, hd);
    const FlashState stripe = flash_state(scratch.stripes.data(), 1, hd);
    total.clear();
    const int64_t c_lo = hi >= 0 ? lo / kSplitKeys : 0, c_hi = hi >= 0 ? hi / kSplitKeys : -1;
    for (int w = only_stripe >= 0 ? only_stripe : 0; w < (only_stripe >= 0 ? only_stripe + 1 : kSplitWays); ++w) {
      const FlashState& into = (w == 0 || only_stripe >= 0) ? total : stripe;
      if (&into != &total) into.clear();
      const int64_t c_first = c_lo + ((w - c_lo % kSplitWays) % kSplitWays + kSplitWays) % kSplitWays;
      for (int64_t c = c_first; c <= c_hi; c += kSplitWays) {
        const int64_t begin = std::max(lo, c * kSplitKeys), end = std::min(hi + 1, (c + 1) * kSplitKeys);
        float* m = chunk_state.m;
        float* sum = chunk_state.sum;
        std::fill(m, m + n_queries, -std::numeric_limits<float>::infinity());
        std::fill(sum, sum + n_queries, 0.0f);
        std::fill(acc, acc + int64_t(n_queries) * hd, 0.0f);
        for (int64_t j0 = begin; j0 < end; j0 += kKeyBlock) {
          const int64_t n = std::min<int64_t>(kKeyBlock, end - j0);
          load_k(j0, n);
          load_rows(p.v, v_head_offset, v_head_bytes, dequantize_v, j0, n, vf);
          block_scores(j0, n);
          for (int i = 0; i < n_queries; ++i) {
            if (!sees_block(i, j0, n)) continue;
            const float rescale = kernels_.softmax_block(scores_block[i], int(n), &m[i], &sum[i]);
            if (rescale != 1.0f) kernels_.scale(hd, rescale, acc + i * hd);
          }
          for_query_batches(j0, n, [&](int h, const int* batch, int n_batch) {
            const float* probs[cpu::Kernels::kMaxDotQueries];
            float* accs[cpu::Kernels::kMaxDotQueries];
            for (int b = 0; b < n_batch; ++b) probs[b] = scores_block[batch[b]], accs[b] = acc + batch[b] * hd;
            kernels_.weighted_rows(hd, probs, n_batch, vf + h * head_block, n, accs);
          });
        }
        merge_flash(into, chunk_state, hd);
      }
      if (&into != &total) merge_flash(total, into, hd);
    }
    if (only_stripe < 0) finish_flash(p, token0, head0, n_group, n_queries, total.m, 1);
    return;
  } else {
    // Pass 1: every query's scores over its keys, then its softmax.
    float* scores = scratch.scores.data();  // [n_queries][n_kv]
    const int64_t stride = p.n_kv;
    for (int64_t j0 = lo; j0 <= hi; j0 += kKeyBlock) {
      const int64_t n = std::min<int64_t>(kKeyBlock, hi - j0 + 1);
      load_k(j0, n);
      block_scores(j0, n);
      for (int i = 0; i < n_queries; ++i)
        if (sees_block(i, j0, n)) std::copy(scores_block[i], scores_block[i] + n, scores + i * stride + j0);
    }
    const bool round_p = p.v.type == DType::F16;
    for (int i = 0; i < n_queries; ++i) {
      const int t = i / n_group;
      if (last[t] >= first[t])
        kernels_.softmax(scores + i * stride + first[t], last[t] - first[t] + 1,
                         p.sinks ? p.sinks + head0 + i % n_group : nullptr, round_p);
    }
    // Pass 2: the probability-weighted sums of the value rows.
    for (int64_t j0 = lo; j0 <= hi; j0 += kKeyBlock) {
      const int64_t n = std::min<int64_t>(kKeyBlock, hi - j0 + 1);
      load_rows(p.v, v_head_offset, v_head_bytes, dequantize_v, j0, n, vf);
      for (int i = 0; i < n_queries; ++i) {
        if (!sees_block(i, j0, n)) continue;
        const int t = i / n_group;
        float* s = scores_block[0];
        for (int64_t r = 0; r < n; ++r) {
          const int64_t j = j0 + r;
          s[r] = (j < first[t] || j > last[t]) ? 0.0f : scores[i * stride + j];
        }
        const float* probs = s;
        float* acc_i = acc + i * hd;
        kernels_.weighted_rows(hd, &probs, 1, vf + kv_of(i) * head_block, n, &acc_i);
      }
    }
  }
  for (int i = 0; i < n_queries; ++i) {
    float* out = p.out + ((token0 + i / n_group) * p.n_head + head0 + i % n_group) * hd;
    std::copy(acc + i * hd, acc + (i + 1) * hd, out);
  }
}

void CpuBackend::attention(const AttentionParams& p) {
  if (p.n_kv > max_ctx_ || p.head_dim > head_dim_)
    fail("internal: attention over {} keys of head size {} exceeds the reserved {} / {}", p.n_kv, p.head_dim,
         max_ctx_, head_dim_);
  const int per_kv = p.n_head / p.n_head_kv;
  const int chunks = (per_kv + kMaxHeadGroup - 1) / kMaxHeadGroup;
  const bool tiled = can_tile_attention(p);
  // Tokens per tile: as many as the scratch holds (queries, and for the
  // unfused path their scores over the context), at most kMaxTileTokens.
  int tile_tokens = 1;
  if (tiled) {
    const int64_t group = std::min(per_kv, kMaxHeadGroup);
    tile_tokens = int(std::min<int64_t>(kMaxTileQueries / group, kMaxTileTokens));
    if (!p.flash) tile_tokens = int(std::min<int64_t>(tile_tokens, int64_t(scratch_scores_) / (group * p.n_kv)));
    tile_tokens = std::max(tile_tokens, 1);
  }
  // Tiles: runs of consecutive tokens of one sequence (same block table).
  std::vector<int64_t>& tiles = tile_starts_;
  tiles.clear();
  for (int64_t t = 0; t < p.n_tokens;) {
    const int64_t start = t;
    const int32_t* table = p.block_tables ? p.block_tables[t] : nullptr;
    ++t;
    while (t < p.n_tokens && t - start < tile_tokens && (p.block_tables ? p.block_tables[t] : nullptr) == table) ++t;
    tiles.push_back(start);
  }
  tiles.push_back(p.n_tokens);
  const int64_t n_tiles = int64_t(tiles.size()) - 1;
  // An item: a tile of tokens times up to kMaxHeadGroup query heads of one
  // KV head; or, when every tile is one token (decode steps), the query
  // heads of up to kMaxItemKvHeads whole KV heads, so that each cache row is
  // read front to back once rather than a head's short piece at a time.
  // Each query gets the same operations either way.
  bool one_token_tiles = tiled;
  for (int64_t tile = 0; tile < n_tiles && one_token_tiles; ++tile) one_token_tiles = tiles[tile + 1] - tiles[tile] == 1;
  int kv_per_item =
      one_token_tiles && per_kv <= kMaxHeadGroup
          ? std::max(1, std::min({p.n_head_kv, kMaxItemKvHeads, kMaxTileQueries / per_kv}))
          : 1;
  // The unfused path keeps every query's scores over the context.
  if (!p.flash && kv_per_item > 1)
    kv_per_item = int(std::clamp<int64_t>(int64_t(scratch_scores_) / (int64_t(per_kv) * p.n_kv), 1, kv_per_item));
  const int items_per_kv_run = kv_per_item > 1 ? 1 : chunks;  // items over a run of kv_per_item KV heads
  const int64_t items_per_tile = int64_t((p.n_head_kv + kv_per_item - 1) / kv_per_item) * items_per_kv_run;
  const int64_t n_items = n_tiles * items_per_tile;
  struct Item {
    int64_t token0;
    int n_tokens, head0, n_group;
  };
  auto item_at = [&](int64_t item) {
    const int64_t tile = item / items_per_tile;
    const int rest = int(item % items_per_tile);
    const int token_count = int(tiles[tile + 1] - tiles[tile]);
    if (kv_per_item > 1) {
      const int kv0 = rest * kv_per_item;
      return Item{tiles[tile], token_count, kv0 * per_kv, std::min(kv_per_item, p.n_head_kv - kv0) * per_kv};
    }
    return Item{tiles[tile], token_count, (rest / chunks) * per_kv + (rest % chunks) * kMaxHeadGroup,
                std::min(kMaxHeadGroup, per_kv - (rest % chunks) * kMaxHeadGroup)};
  };
  auto run_item = [&](int64_t item, ThreadScratch& scratch) {
    const auto [token0, n_tokens, head0, n_group] = item_at(item);
    if (tiled) {
      attend_tile(p, token0, n_tokens, head0, n_group, scratch);
    } else {
      for (int64_t t = token0; t < token0 + n_tokens; ++t) attend_group(p, t, head0, n_group, scratch);
    }
  };
  // Too few items to keep the threads busy (decode over one or two KV
  // heads): each item's key stripes become items, merged after.
  const int64_t n_chunks = (p.n_kv + kSplitKeys - 1) / kSplitKeys;
  if (tiled && p.flash && n_items < int64_t(pool_.size()) && n_chunks > 1 &&
      p.n_tokens * p.n_head * p.n_kv * p.head_dim >= kMinParallelWork) {
    const int ways = int(std::min<int64_t>(kSplitWays, n_chunks));
    const size_t state_floats = size_t(kMaxTileQueries) * size_t(p.head_dim + 2);
    float* states = split_states_.data();
    pool_.run([&](int thread, int n_threads) {
      ThreadScratch& scratch = thread_scratch_[thread];
      for (int64_t w = thread; w < n_items * ways; w += n_threads) {
        const Item it = item_at(w / ways);
        attend_tile(p, it.token0, it.n_tokens, it.head0, it.n_group, scratch, int(w % ways),
                    states + size_t(w) * state_floats);
      }
    });
    for (int64_t item = 0; item < n_items; ++item) {
      const Item it = item_at(item);
      finish_flash(p, it.token0, it.head0, it.n_group, it.n_tokens * it.n_group,
                   states + size_t(item) * ways * state_floats, ways);
    }
    return;
  }
  if (p.n_tokens * p.n_head * p.n_kv * p.head_dim < kMinParallelWork) {
    for (int64_t item = 0; item < n_items; ++item) run_item(item, thread_scratch_[0]);
    return;
  }
  pool_.run([&](int thread, int n_threads) {
    ThreadScratch& scratch = thread_scratch_[thread];
    for (int64_t item = thread; item < n_items; item += n_threads) run_item(item, scratch);
  });
}

}  // namespace hearth::backend

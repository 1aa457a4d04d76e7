// The batch-invariance check shared by the CPU and Vulkan engine tests: a
// sequence's logits must be the same, bit for bit, alone and among busy
// batchmates (another slot mid-prefill, another decoding beside it, the
// sequence itself joining late).
#pragma once

#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/batch_engine.h"
#include "sampling/sampler.h"

namespace hearth::test {

inline const std::vector<int32_t> kPromptA = {1, 410, 478, 33, 392, 200, 17, 301, 99, 45, 12};
inline const std::vector<int32_t> kPromptB = {1, 77, 88, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112};
inline const std::vector<int32_t> kPromptC = {1, 5, 6};

// Greedy-decodes `steps` tokens of kPromptA in slot 0, returning every step's logits.
inline std::vector<std::vector<float>> greedy_alone(runtime::BatchEngine& engine, int steps) {
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  std::vector<runtime::SlotInput> in = {{0, kPromptA, true}};
  engine.step(in, logits);
  out.push_back(logits);
  for (int s = 1; s < steps; ++s) {
    const int32_t next = sampling::argmax(logits.data(), engine.n_vocab());
    in = {{0, std::span<const int32_t>(&next, 1), true}};
    engine.step(in, logits);
    out.push_back(logits);
  }
  return out;
}

// The same greedy decode on a busy engine: slot 1 is mid-prefill and slot 2
// decodes alongside; slot 0 joins late. Each step's slot-0 row must equal
// `expected` (from greedy_alone) bitwise.
inline void expect_alone_rows_among_batchmates(runtime::BatchEngine& busy,
                                               const std::vector<std::vector<float>>& expected) {
  using runtime::SlotInput;
  std::vector<float> logits;
  std::vector<SlotInput> warm = {{1, std::span(kPromptB).first(9), false}, {2, kPromptC, true}};
  busy.step(warm, logits);
  std::vector<int32_t> other = {int32_t(sampling::argmax(logits.data(), busy.n_vocab()))};
  std::vector<SlotInput> first = {{2, other, true}, {0, kPromptA, true}, {1, std::span(kPromptB).subspan(9), true}};
  busy.step(first, logits);
  std::vector<float> row0(logits.begin() + busy.n_vocab(), logits.begin() + 2 * busy.n_vocab());
  ASSERT_EQ(row0, expected[0]);
  for (size_t s = 1; s < expected.size(); ++s) {
    const int32_t next = sampling::argmax(row0.data(), busy.n_vocab());
    const int32_t filler = int32_t(3 + s);
    std::vector<SlotInput> in = {{1, std::span(&filler, 1), false}, {0, std::span(&next, 1), true}};
    if (s % 3 == 0) in.push_back({2, std::span(&filler, 1), true});
    busy.step(in, logits);
    row0.assign(logits.begin(), logits.begin() + busy.n_vocab());
    ASSERT_EQ(row0, expected[s]) << "step " << s;
  }
}

}  // namespace hearth::test

// Batch invariance on the Vulkan backend (lavapipe): the server's multi-slot
// engine gives a sequence the same logits, bit for bit, whatever else shares
// its steps (other slots prefilling or decoding beside it), and whether its
// layers run on one device or split across two.
#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/vulkan/instance.h"
#include "lavapipe.h"
#include "model/reference_runner.h"
#include "runtime/batch_engine.h"

namespace {

using namespace hearth;
using namespace hearth::runtime;

using test::lavapipe;

const std::vector<int32_t> kPromptA = {1, 410, 478, 33, 392, 200, 17, 301, 99, 45, 12};
const std::vector<int32_t> kPromptB = {1, 77, 88, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112};
const std::vector<int32_t> kPromptC = {1, 5, 6};

std::vector<std::vector<float>> greedy_alone(BatchEngine& engine, int steps) {
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  std::vector<SlotInput> in = {{0, kPromptA, true}};
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

TEST(VulkanBatchEngine, ASequenceIsBitwiseIndependentOfItsBatchmatesAndTheSplit) {
  for (const char* file : {"stories260K.gguf", "synth-qwen2-Q4_K_M.gguf", "synth-gemma3-Q4_K_M.gguf"}) {
    SCOPED_TRACE(file);
    const auto path = reference_test::model_path(file);
    ASSERT_FALSE(path.empty()) << file;
    const auto m = model::Model::load(std::make_shared<const gguf::File>(gguf::File::open(path.string())));
    BatchEngineConfig config;
    config.n_slots = 3;
    config.n_ctx_per_slot = 128;
    config.n_batch = 64;
    std::vector<std::vector<float>> expected;
    {
      BatchEngine alone(*m, lavapipe(), config);
      expected = greedy_alone(alone, 8);
    }
    // Busy across two logical devices (the layers split in half, each half's
    // KV blocks on its device): the same rows as alone on one.
    const int n_layer = m->hparams().n_layer;
    const std::vector<model::LayerPlacement> split = {{&lavapipe(0), 0, n_layer / 2},
                                                       {&lavapipe(1), n_layer / 2, n_layer}};
    BatchEngine busy(*m, split, config);
    std::vector<float> logits;
    // Slot 1 is mid-prefill and slot 2 decodes alongside; slot 0 joins late.
    std::vector<SlotInput> warm = {{1, std::span(kPromptB).first(9), false}, {2, kPromptC, true}};
    busy.step(warm, logits);
    std::vector<int32_t> other = {int32_t(sampling::argmax(logits.data(), busy.n_vocab()))};
    std::vector<SlotInput> first = {{2, other, true}, {0, kPromptA, true}, {1, std::span(kPromptB).subspan(9), true}};
    busy.step(first, logits);
    std::vector<float> row0(logits.begin() + busy.n_vocab(), logits.begin() + 2 * busy.n_vocab());
    ASSERT_EQ(row0, expected[0]);
    for (int s = 1; s < 8; ++s) {
      const int32_t next = sampling::argmax(row0.data(), busy.n_vocab());
      const int32_t filler = int32_t(3 + s);
      std::vector<SlotInput> in = {{1, std::span(&filler, 1), false}, {0, std::span(&next, 1), true}};
      if (s % 3 == 0) in.push_back({2, std::span(&filler, 1), true});
      busy.step(in, logits);
      row0.assign(logits.begin(), logits.begin() + busy.n_vocab());
      ASSERT_EQ(row0, expected[s]) << "step " << s;
    }
  }
}

}  // namespace

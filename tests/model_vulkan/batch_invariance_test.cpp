// Batch invariance on the Vulkan backend (lavapipe): the server's multi-slot
// engine gives a sequence the same logits, bit for bit, whatever else shares
// its steps (other slots prefilling or decoding beside it), and whether its
// layers run on one device or split across two.
#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/vulkan/instance.h"
#include "common/batch_invariance.h"
#include "lavapipe.h"
#include "model/reference_runner.h"
#include "runtime/batch_engine.h"

namespace {

using namespace hearth;
using namespace hearth::runtime;

using test::lavapipe;

using test::greedy_alone;
using test::kPromptA;
using test::kPromptB;
using test::kPromptC;

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
    ASSERT_NO_FATAL_FAILURE(test::expect_alone_rows_among_batchmates(busy, expected));
  }
}

}  // namespace

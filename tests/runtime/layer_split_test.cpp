// --gpu-layers and --tensor-split placed as llama.cpp places them
// (llama-model.cpp, load_tensors): i_gpu_start = max(n_layer + 1 - ngl, 0),
// the output is "layer" n_layer, and offloaded layer il goes to the first
// device whose normalised cumulative split exceeds (il - i_gpu_start) /
// min(ngl, n_layer + 1). The expected runs below are that rule worked by hand.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "runtime/layer_split.h"

namespace {

using namespace hearth;
using runtime::kCpuDevice;
using runtime::LayerRun;

std::vector<LayerRun> split(int n_layer, int gpu_layers, std::vector<double> shares) {
  return runtime::split_layers(n_layer, gpu_layers, shares);
}

TEST(SplitLayers, AllLayersAndTheOutputOnOneGpu) {
  EXPECT_EQ(split(8, 9, {1}), (std::vector<LayerRun>{{0, 0, 8}}));
  EXPECT_EQ(split(8, 99, {1}), (std::vector<LayerRun>{{0, 0, 8}}));  // more than there are: all
}

TEST(SplitLayers, TheLastLayersGoToTheGpuTheFirstStayOnTheCpu) {
  // ngl 4 of 8: i_gpu_start = 9 - 4 = 5, so layers 5-7 and the output.
  EXPECT_EQ(split(8, 4, {1}), (std::vector<LayerRun>{{kCpuDevice, 0, 5}, {0, 5, 8}}));
  // ngl 8: layer 0 alone stays on the CPU.
  EXPECT_EQ(split(8, 8, {1}), (std::vector<LayerRun>{{kCpuDevice, 0, 1}, {0, 1, 8}}));
}

TEST(SplitLayers, OneGpuLayerIsTheOutputAlone) {
  EXPECT_EQ(split(8, 1, {1}), (std::vector<LayerRun>{{kCpuDevice, 0, 8}, {0, 8, 8}}));
}

TEST(SplitLayers, NoGpuLayersIsTheCpuAlone) {
  EXPECT_EQ(split(8, 0, {1}), (std::vector<LayerRun>{{kCpuDevice, 0, 8}}));
  EXPECT_EQ(split(8, 0, {}), (std::vector<LayerRun>{{kCpuDevice, 0, 8}}));
}

TEST(SplitLayers, TwoGpusInProportion) {
  // 3,1 over 9 offloaded: split points 0.75, 1; il / 9 < 0.75 for il 0-6.
  EXPECT_EQ(split(8, 9, {3, 1}), (std::vector<LayerRun>{{0, 0, 7}, {1, 7, 8}}));
  // 1,1: il / 9 < 0.5 for il 0-4.
  EXPECT_EQ(split(8, 9, {1, 1}), (std::vector<LayerRun>{{0, 0, 5}, {1, 5, 8}}));
  // 3,1 over 4 offloaded (layers 5-7 and the output): 0, .25, .5 -> 0; .75 -> 1: the output alone.
  EXPECT_EQ(split(8, 4, {3, 1}), (std::vector<LayerRun>{{kCpuDevice, 0, 5}, {0, 5, 8}, {1, 8, 8}}));
  // A device with no share gets no layer.
  EXPECT_EQ(split(8, 9, {0, 1}), (std::vector<LayerRun>{{1, 0, 8}}));
  EXPECT_EQ(split(8, 9, {1, 0}), (std::vector<LayerRun>{{0, 0, 8}}));
}

TEST(ParseGpuLayers, AllACountOrAnErrorNamingTheOption) {
  EXPECT_EQ(runtime::parse_gpu_layers("all", 8), 9);
  EXPECT_EQ(runtime::parse_gpu_layers("3", 8), 3);
  EXPECT_EQ(runtime::parse_gpu_layers("0", 8), 0);
  EXPECT_EQ(runtime::parse_gpu_layers("99", 8), 9);
  for (const char* bad : {"", "-1", "half", "3x"}) {
    try {
      runtime::parse_gpu_layers(bad, 8);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--gpu-layers"), std::string::npos) << e.what();
    }
  }
}

TEST(ParseTensorSplit, OneShareADeviceSomePositive) {
  EXPECT_EQ(runtime::parse_tensor_split("3,1", 2), (std::vector<double>{3, 1}));
  EXPECT_EQ(runtime::parse_tensor_split("0.5,0,2", 3), (std::vector<double>{0.5, 0, 2}));
  for (const char* bad : {"3", "3,1,1", "0,0", "3,-1", "3,", "a,b"}) {
    try {
      runtime::parse_tensor_split(bad, 2);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--tensor-split"), std::string::npos) << e.what();
    }
  }
}

// The default --gpu-layers: all when the memory is ample, none when it is
// not, and in between the count whose layers' bytes (as the file's tensors
// give them) fit.
TEST(GpuLayersThatFit, CountsTheLayersTheMemoryHolds) {
  const auto path = test::source_dir() / "models/stories260K.gguf";
  auto file = std::make_shared<const gguf::File>(gguf::File::open(path.string()));
  auto model = model::Model::load(file);
  const int n_layer = model->hparams().n_layer;
  runtime::SessionConfig config;
  config.n_ctx = 64;
  config.n_ubatch = 16;
  const std::vector<double> one = {1};
  EXPECT_EQ(runtime::gpu_layers_that_fit(*model, config, std::vector<uint64_t>{1ull << 30}, one), n_layer + 1);
  EXPECT_EQ(runtime::gpu_layers_that_fit(*model, config, std::vector<uint64_t>{1024}, one), 0);

  // Every layer's matrices, from the file's tensor table (blk.N.*, 2-D and up).
  uint64_t layer_matrices = 0;
  for (const auto& t : file->tensors())
    if (t.name.rfind("blk.0.", 0) == 0 && t.n_dims >= 2) layer_matrices += t.n_bytes;
  EXPECT_EQ(runtime::layer_weight_bytes(*model, 0), layer_matrices);
  // Half the file's bytes: the output and some layers, not all.
  uint64_t all_bytes = 0;
  for (const auto& t : file->tensors()) all_bytes += t.n_bytes;
  const int some = runtime::gpu_layers_that_fit(*model, config, std::vector<uint64_t>{all_bytes / 2}, one);
  EXPECT_GT(some, 1);
  EXPECT_LT(some, n_layer + 1);
  // Two devices of half the memory each hold no more than one of the whole.
  const std::vector<double> halves = {1, 1};
  const std::vector<uint64_t> half_memory = {all_bytes / 4, all_bytes / 4};
  EXPECT_LE(runtime::gpu_layers_that_fit(*model, config, half_memory, halves), some);
}

}  // namespace

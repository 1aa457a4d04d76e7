// MoE on the Vulkan backend: the routing (softmax, top-k, renormalization)
// against its textbook definition computed here in double, and the expert
// FFN against the reference backend's moe_ffn.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/ref/quants.h"
#include "backend_vulkan/vulkan_test_util.h"

using namespace hearth;
using namespace hearth::backend;
using namespace hearth::vulkan_test;

namespace {

TEST(VulkanMoe, RoutingPicksTheMostProbableExperts) {
  const int64_t rows = 5, n_expert = 40;
  const int n_used = 3;
  auto logits = random_floats(rows * n_expert, 31, 2.0f);
  logits[2 * n_expert + 7] = logits[2 * n_expert + 9] = 9.0f;  // a tie: the lower index first
  for (bool normalize : {false, true}) {
    auto& d = device();
    auto ids = d.alloc(DType::I32, n_used, rows);
    auto weights = d.alloc(DType::F32, n_used, rows);
    d.moe_route(upload(logits, n_expert), n_used, normalize, ids, weights);
    std::vector<int32_t> got_ids(rows * n_used);
    d.read(ids, got_ids.data());
    const auto got_weights = download(weights);
    for (int64_t r = 0; r < rows; ++r) {
      const float* l = logits.data() + r * n_expert;
      const double max_logit = *std::max_element(l, l + n_expert);
      std::vector<double> probs(n_expert);
      double sum = 0;
      for (int e = 0; e < n_expert; ++e) sum += probs[e] = std::exp(l[e] - max_logit);
      std::vector<int> order(n_expert);
      for (int e = 0; e < n_expert; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
      double total = 0;
      for (int k = 0; k < n_used; ++k) total += probs[order[k]] / sum;
      for (int k = 0; k < n_used; ++k) {
        EXPECT_EQ(got_ids[r * n_used + k], order[k]) << "row " << r << " slot " << k;
        const double expected = probs[order[k]] / sum / (normalize ? total : 1.0);
        EXPECT_NEAR(got_weights[r * n_used + k], expected, 1e-6) << "row " << r << " slot " << k;
      }
    }
    EXPECT_EQ(got_ids[2 * n_used], 7);
    EXPECT_EQ(got_ids[2 * n_used + 1], 9);
    d.free(ids);
    d.free(weights);
  }
}

TEST(VulkanMoe, ExpertFfnMatchesReference) {
  const int64_t n_embd = 64, n_ff = 96, rows = 3, n_expert = 4;
  const int n_used = 2;
  for (DType type : {DType::F32, DType::Q8_0, DType::Q4_1}) {
    auto make_stack = [&](int64_t n_in, int64_t n_out, uint32_t seed) {
      std::vector<uint8_t> bytes(row_bytes(type, n_in) * n_out * n_expert);
      auto values = random_floats(size_t(n_in * n_out * n_expert), seed, 0.3f);
      for (int64_t r = 0; r < n_out * n_expert; ++r)
        ref::quantize_row(type, values.data() + r * n_in, bytes.data() + r * row_bytes(type, n_in), n_in);
      return bytes;
    };
    auto gate_bytes = make_stack(n_embd, n_ff, 32), up_bytes = make_stack(n_embd, n_ff, 33),
         down_bytes = make_stack(n_ff, n_embd, 34);
    const Weight gate{type, gate_bytes.data(), n_embd, n_ff, n_expert, row_bytes(type, n_embd)};
    const Weight up{type, up_bytes.data(), n_embd, n_ff, n_expert, row_bytes(type, n_embd)};
    const Weight down{type, down_bytes.data(), n_ff, n_embd, n_expert, row_bytes(type, n_ff)};
    const auto x = random_floats(rows * n_embd, 35);
    const std::vector<int32_t> ids = {3, 0, 1, 3, 2, 1};  // expert 3 twice, expert 1 twice
    const std::vector<float> weights = {0.7f, 0.3f, 0.55f, 0.45f, 0.9f, 0.1f};

    auto ref = make_ref_backend();
    ref->reserve(rows * n_used, n_ff, 16, 64);
    MoeParams p;
    p.x = x.data();
    p.rows = rows;
    p.expert_ids = ids.data();
    p.expert_weights = weights.data();
    p.n_used = n_used;
    p.gate = gate;
    p.up = up;
    p.down = down;
    std::vector<float> expected(rows * n_embd);
    p.out = expected.data();
    ref->moe_ffn(p);

    auto& d = device();
    DeviceMoe m;
    m.x = upload(x, n_embd);
    m.ids = d.alloc(DType::I32, n_used, rows);
    d.write(m.ids, ids.data());
    m.weights = upload(weights, n_used);
    m.gate = d.upload_weight(gate);
    m.up = d.upload_weight(up);
    m.down = d.upload_weight(down);
    m.n_expert = int(n_expert);
    m.out = d.alloc(DType::F32, n_embd, rows);
    d.moe_ffn(m);
    expect_close(download(m.out), expected, 2e-6, fmt::format("moe_ffn {}", dtype_name(type)));
    for (const auto& t : {m.x, m.ids, m.weights, m.gate, m.up, m.down, m.out}) d.free(t);
  }
}

}  // namespace

#version 450
// MoE routing, one invocation per row: softmax over the router logits, the
// n_used most probable experts (ties to the lower index), optionally
// renormalized to sum to one; or (mode 2, gpt-oss) the n_used largest logits
// and the softmax of just those. `normalize` is backend::MoeGating.
#include "common.glsl"
#define MAX_EXPERTS 256u
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer L { uint logits[]; };
layout(binding = 1) buffer Ids { int ids[]; };
layout(binding = 2) buffer Wt { uint weights[]; };
layout(push_constant) uniform Params {
  uint n_expert, n_used, rows, normalize;
  uint l_off, l_stride, ids_off, ids_stride, w_off, w_stride;  // elements
} p;

void main() {
  uint r = group_index() * 64u + gl_LocalInvocationID.x;
  if (r >= p.rows) return;
  float probs[MAX_EXPERTS];
  uint base = p.l_off + r * p.l_stride;
  float max_logit = uintBitsToFloat(logits[base]);
  for (uint e = 1u; e < p.n_expert; ++e) max_logit = max(max_logit, uintBitsToFloat(logits[base + e]));
  // Softmaxes as the host's: the sum exact (compensated; the host sums in
  // double), then one reciprocal that every value is multiplied by.
  float sum = 0.0, sum_low = 0.0;
  for (uint e = 0u; e < p.n_expert; ++e) {
    probs[e] = p.normalize == 2u ? uintBitsToFloat(logits[base + e]) : exp_rn(uintBitsToFloat(logits[base + e]) - max_logit);
    float error;
    two_sum(sum, probs[e], sum, error);
    sum_low += error;
  }
  if (p.normalize != 2u) {
    float inv = reciprocal_of_pair(sum, sum_low);
    for (uint e = 0u; e < p.n_expert; ++e) {
      precise float scaled = probs[e] * inv;
      probs[e] = scaled;
    }
  }
  uint chosen[MAX_EXPERTS / 32u];
  for (uint i = 0u; i < MAX_EXPERTS / 32u; ++i) chosen[i] = 0u;
  float total = 0.0;
  for (uint k = 0u; k < p.n_used; ++k) {
    int best = -1;
    for (uint e = 0u; e < p.n_expert; ++e) {
      if ((chosen[e / 32u] & (1u << (e % 32u))) != 0u) continue;
      if (best < 0 || probs[e] > probs[best]) best = int(e);
    }
    chosen[uint(best) / 32u] |= 1u << (uint(best) % 32u);
    ids[p.ids_off + r * p.ids_stride + k] = best;
    weights[p.w_off + r * p.w_stride + k] = floatBitsToUint(probs[best]);
    total += probs[best];
  }
  if (p.normalize == 2u) {
    // Softmax of the chosen logits; the first chosen is their maximum.
    uint w0 = p.w_off + r * p.w_stride;
    float top = uintBitsToFloat(weights[w0]);
    float k_sum = 0.0, k_low = 0.0;
    for (uint k = 0u; k < p.n_used; ++k) {
      float e = exp_rn(uintBitsToFloat(weights[w0 + k]) - top), error;
      weights[w0 + k] = floatBitsToUint(e);
      two_sum(k_sum, e, k_sum, error);
      k_low += error;
    }
    float inv = reciprocal_of_pair(k_sum, k_low);
    for (uint k = 0u; k < p.n_used; ++k) {
      precise float scaled = uintBitsToFloat(weights[w0 + k]) * inv;
      weights[w0 + k] = floatBitsToUint(scaled);
    }
  } else if (p.normalize == 1u)
    for (uint k = 0u; k < p.n_used; ++k) {
      uint i = p.w_off + r * p.w_stride + k;
      weights[i] = floatBitsToUint(div_rn(uintBitsToFloat(weights[i]), total));
    }
}

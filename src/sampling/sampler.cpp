#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace hearth::sampling {

int32_t argmax(const float* values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return int32_t(best);
}

Sampler::Sampler(const SamplerConfig& config, int64_t n_vocab)
    : config_(config), n_vocab_(n_vocab), rng_(config.seed), candidates_(n_vocab), counts_(n_vocab, 0) {
  if (config.top_p <= 0.0f) fail("top-p must be in (0, 1], got {}", config.top_p);
  if (config.min_p >= 1.0f) fail("min-p must be below 1, got {}", config.min_p);
}

void Sampler::apply_penalties(std::span<const int32_t> history) {
  const bool active = config_.repeat_penalty != 1.0f || config_.presence_penalty != 0.0f ||
                      config_.frequency_penalty != 0.0f;
  if (!active || config_.penalty_last_n == 0 || history.empty()) return;
  const size_t window = config_.penalty_last_n < 0 ? history.size()
                                                   : std::min(history.size(), size_t(config_.penalty_last_n));
  const auto recent = history.subspan(history.size() - window);
  for (int32_t id : recent)
    if (id >= 0 && id < n_vocab_) ++counts_[id];
  for (int32_t id : recent) {
    if (id < 0 || id >= n_vocab_ || counts_[id] == 0) continue;
    float& logit = candidates_[id].logit;
    // As llama.cpp: the repeat penalty divides positive logits and multiplies negative ones.
    logit = logit > 0 ? logit / config_.repeat_penalty : logit * config_.repeat_penalty;
    logit -= float(counts_[id]) * config_.frequency_penalty + config_.presence_penalty;
    counts_[id] = 0;  // each token is penalised once
  }
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history, std::span<const uint8_t> allowed) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n_vocab_; ++i)
    candidates_[i] = {int32_t(i), (!allowed.empty() && !allowed[i]) ? minus_inf : logits[i], 0.0f};
  apply_penalties(history);

  if (config_.temperature <= 0.0f) {
    int64_t best = 0;
    for (int64_t i = 1; i < n_vocab_; ++i)
      if (candidates_[i].logit > candidates_[best].logit) best = i;
    if (candidates_[best].logit == minus_inf) fail("no token is allowed at this step");
    return candidates_[best].id;
  }

  // Sort descending by logit (stable: ties keep the lower id first).
  auto end = candidates_.begin() + n_vocab_;
  size_t n = size_t(n_vocab_);
  if (config_.top_k > 0 && size_t(config_.top_k) < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + config_.top_k, end,
                      [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); });
    n = size_t(config_.top_k);
  } else {
    std::sort(candidates_.begin(), end,
              [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); });
  }
  while (n > 1 && candidates_[n - 1].logit == minus_inf) --n;
  if (candidates_[0].logit == minus_inf) fail("no token is allowed at this step");

  auto softmax = [&](size_t count, float temperature) {
    const float max_logit = candidates_[0].logit;
    double sum = 0.0;
    for (size_t i = 0; i < count; ++i) sum += (candidates_[i].p = std::exp((candidates_[i].logit - max_logit) / temperature));
    for (size_t i = 0; i < count; ++i) candidates_[i].p = float(candidates_[i].p / sum);
  };
  softmax(n, 1.0f);
  if (config_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cumulative += candidates_[i].p;
      if (cumulative >= config_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (config_.min_p > 0.0f) {
    const float threshold = candidates_[0].p * config_.min_p;
    size_t keep = 1;
    while (keep < n && candidates_[keep].p >= threshold) ++keep;
    n = keep;
  }
  softmax(n, config_.temperature);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double r = uniform(rng_);
  double cumulative = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += candidates_[i].p;
    if (r < cumulative) return candidates_[i].id;
  }
  return candidates_[n - 1].id;
}

}  // namespace hearth::sampling

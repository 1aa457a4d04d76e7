// Choosing the next token from logits: penalties, top-k, top-p, min-p,
// temperature, then a seeded draw; temperature <= 0 is greedy. The candidate
// buffer is sized once for the vocabulary.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace hearth::sampling {

struct SamplerConfig {
  float temperature = 0.8f;
  int top_k = 40;             // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_last_n = 64;    // how many recent tokens the penalties look at
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(const SamplerConfig& config, int64_t n_vocab);

  // `allowed`, when not empty, masks tokens out (0 = never pick). `history`
  // is the sequence so far, for the penalties.
  int32_t sample(const float* logits, std::span<const int32_t> history, std::span<const uint8_t> allowed = {});

  const SamplerConfig& config() const { return config_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties(std::span<const int32_t> history);

  SamplerConfig config_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
  std::vector<int32_t> counts_;
};

// Index of the largest value; ties go to the lowest index.
int32_t argmax(const float* values, int64_t n);

}  // namespace hearth::sampling

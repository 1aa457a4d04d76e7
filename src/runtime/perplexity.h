// Perplexity and KL divergence computed as llama-perplexity computes them:
// the token stream is cut into chunks of n_ctx tokens, each evaluated from an
// empty cache with its first token replaced by BOS (when the model adds one),
// and only the second half of each chunk is scored (every scored token has at
// least n_ctx/2 tokens of context). KL divergence compares against the base
// model's log-probabilities saved in llama-perplexity's --kl-divergence-base
// file format, so either program's file works with either.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/session.h"

namespace hearth::runtime {

struct PerplexityOptions {
  int64_t n_ctx = 512;        // tokens per chunk
  int64_t max_chunks = -1;    // -1: every whole chunk
  std::optional<int32_t> bos;  // replaces each chunk's first token when set
  // Where to save the base log-probabilities (empty: not saved).
  std::string save_base_path;
  // Called after each chunk with (chunks done, chunks, running ppl).
  std::function<void(int64_t, int64_t, double)> on_chunk;
};

struct PerplexityResult {
  double ppl = 0;
  double ppl_sd = 0;      // llama-perplexity's "+/-": ppl * sd(nll) / sqrt(count - 1)
  int64_t n_chunks = 0;
  int64_t n_scored = 0;   // tokens scored
};

// Throws when the tokens hold fewer than 2 * n_ctx tokens (as llama-perplexity refuses).
PerplexityResult perplexity(Session& session, const std::vector<int32_t>& tokens, const PerplexityOptions& options);

// A value and its statistical uncertainty, as llama-perplexity prints them.
struct Estimate {
  double value = 0;
  double sd = 0;
};

struct KlDivergenceResult {
  Estimate ppl;           // the evaluated model
  Estimate ppl_base;      // from the saved base log-probabilities
  Estimate ln_ppl_ratio;  // mean ln(PPL(Q)/PPL(base))
  Estimate delta_ppl;     // PPL(Q) - PPL(base)
  Estimate kld;           // mean KL(base || Q) per token
  Estimate same_top;      // fraction of tokens whose argmax agrees
  double kld_median = 0;
  double kld_max = 0;
  int64_t n_chunks = 0;
  int64_t n_scored = 0;
  int64_t n_ctx = 0;
};

// Re-evaluates the tokens stored in a base file (its n_ctx and chunks) and
// compares every scored position with the stored log-probabilities.
KlDivergenceResult kl_divergence(Session& session, const std::string& base_path, std::optional<int32_t> bos,
                                 const std::function<void(int64_t, int64_t)>& on_chunk = {});

// The n_ctx a base file was made with (to size the session before kl_divergence).
int64_t base_file_context(const std::string& base_path);

}  // namespace hearth::runtime

// The generation loop: prefill the prompt, then sample and decode one token
// at a time until the limit, an end-of-generation token, or the context ends.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::runtime {

// Restricts which tokens may come next (a grammar, a forced tool call).
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // allowed[id] = 1 for every token that may come next (end-of-generation
  // tokens only where the constraint is complete).
  virtual void fill_mask(std::vector<uint8_t>& allowed) = 0;
  virtual void accept(int32_t token) = 0;
  virtual bool is_complete() const = 0;
  // Text that would complete the constraint from here (a shortest one), for
  // closing the output when the token budget runs out; "" when complete.
  virtual std::string completion_text() const { return ""; }
};

struct GenerateOptions {
  int n_predict = 256;     // < 0: until end of generation or the context is full
  bool ignore_eos = false;  // keep going past end-of-generation tokens
  sampling::SamplerConfig sampling;
  TokenConstraint* constraint = nullptr;
  // Set from elsewhere (a Ctrl-C handler) to stop after the current token.
  const std::atomic<bool>* cancel = nullptr;
};

enum class StopReason { EndOfGeneration, Length, ContextFull, Cancelled };

// When the budget ends before a constraint is satisfied, the result's text is
// closed with the constraint's shortest completion, so constrained output
// always parses; `tokens` holds only what the model generated.

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (an end-of-generation token included)
  std::string text;             // their text, end-of-generation tokens left out
  StopReason stop = StopReason::Length;
  int64_t n_prompt = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Evaluates `prompt` after what the session holds and generates. `on_text`
// receives the text as it becomes complete UTF-8.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                        const GenerateOptions& options, const std::function<void(std::string_view)>& on_text);

}  // namespace hearth::runtime

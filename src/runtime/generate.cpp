#include "runtime/generate.h"

#include "core/error.h"

namespace hearth::runtime {

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                        const GenerateOptions& options, const std::function<void(std::string_view)>& on_text) {
  using clock = std::chrono::steady_clock;
  GenerateResult result;
  result.n_prompt = int64_t(prompt.size());
  const int64_t n_vocab = session.n_vocab();
  if (tokenizer.n_vocab() != n_vocab)
    fail("the tokenizer has {} tokens but the model's output has {}", tokenizer.n_vocab(), n_vocab);
  for (int32_t t : prompt)
    if (t < 0 || t >= n_vocab) fail("prompt token id {} is outside the vocabulary of {} tokens", t, n_vocab);

  sampling::Sampler sampler(options.sampling, n_vocab);
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + (options.n_predict > 0 ? size_t(options.n_predict) : 0));
  std::vector<uint8_t> allowed;
  if (options.constraint) allowed.resize(n_vocab);
  // The generated text continues the prompt: no start-of-text space stripping.
  tokenizer::StreamDecoder decoder(tokenizer, /*remove_special=*/true, /*at_text_start=*/false);

  const auto t0 = clock::now();
  std::vector<float> logits;
  session.eval(prompt, /*all_logits=*/false, logits);
  const auto t1 = clock::now();
  result.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();

  const float* current = logits.data();
  for (int64_t i = 0; options.n_predict < 0 || i < options.n_predict; ++i) {
    if (options.constraint) options.constraint->fill_mask(allowed);
    const int32_t token = sampler.sample(current, history, allowed);
    result.tokens.push_back(token);
    history.push_back(token);
    if (options.constraint) options.constraint->accept(token);
    const bool end = tokenizer.is_eog(token);
    if (end && !options.ignore_eos) {
      result.stop = StopReason::EndOfGeneration;
      break;
    }
    const std::string piece = decoder.push(token);
    if (!piece.empty()) {
      result.text += piece;
      if (on_text) on_text(piece);
    }
    if (options.constraint && options.constraint->is_complete() && !options.ignore_eos) {
      result.stop = StopReason::EndOfGeneration;
      break;
    }
    const bool last = options.n_predict >= 0 && i + 1 >= options.n_predict;
    if (last) break;
    if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
      result.stop = StopReason::Cancelled;
      break;
    }
    if (session.n_past() >= session.n_ctx()) {
      result.stop = StopReason::ContextFull;
      break;
    }
    current = session.decode(token);
  }
  // A budget that ran out inside the grammar ends with its shortest
  // completion, which may first finish a character the last token began.
  std::string completion;
  if (options.constraint && result.stop != StopReason::EndOfGeneration && !options.constraint->is_complete())
    completion = options.constraint->completion_text();
  const std::string rest = decoder.flush(completion);
  if (!rest.empty()) {
    result.text += rest;
    if (on_text) on_text(rest);
  }
  result.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return result;
}

}  // namespace hearth::runtime

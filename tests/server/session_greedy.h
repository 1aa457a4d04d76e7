// The server tests' reference output: one single-sequence Session on the
// CPU, argmax at each step, decoded to text as the server streams it.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"
#include "runtime/session.h"
#include "sampling/sampler.h"
#include "server/served_model.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server::test_support {

inline std::string session_greedy(const ServedModel& m, const std::vector<int32_t>& prompt, int n) {
  auto backend = backend::make_cpu_backend(1);
  runtime::SessionConfig config;
  config.n_ctx = 512;
  runtime::Session session(m.model(), *backend, config);
  std::vector<float> logits;
  session.eval(prompt, false, logits);
  tokenizer::StreamDecoder decoder(m.tokenizer(), true);
  std::string text;
  const float* row = logits.data();
  for (int i = 0; i < n; ++i) {
    const int32_t token = sampling::argmax(row, session.n_vocab());
    if (m.tokenizer().is_eog(token)) break;
    text += decoder.push(token);
    if (i + 1 < n) row = session.decode(token);
  }
  return text + decoder.flush();
}

}  // namespace hearth::server::test_support

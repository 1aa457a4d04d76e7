#include "runtime/grammar_constraint.h"

#include "core/error.h"

namespace hearth::runtime {

std::shared_ptr<const grammar::Vocabulary> grammar_vocabulary(const tokenizer::Tokenizer& tokenizer) {
  const int32_t n = tokenizer.n_vocab();
  std::vector<std::string> bytes(n);
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < n; ++id) {
    if (tokenizer.is_eog(id)) eog.push_back(id);
    if (!tokenizer.is_control(id)) bytes[id] = std::string(tokenizer.piece(id, /*remove_special=*/true));
  }
  return std::make_shared<const grammar::Vocabulary>(std::move(bytes), std::move(eog));
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<const grammar::Grammar> grammar,
                                     std::shared_ptr<const grammar::Vocabulary> vocabulary)
    : matcher_(std::move(grammar), std::move(vocabulary)) {}

std::string GrammarConstraint::completion_text() const {
  if (matcher_.is_accepting()) return "";
  return matcher_.shortest_completion().value_or("");
}

void GrammarConstraint::accept(int32_t token) {
  if (!matcher_.accept_token(token)) fail("internal: token {} was sampled although the grammar forbids it", token);
}

}  // namespace hearth::runtime

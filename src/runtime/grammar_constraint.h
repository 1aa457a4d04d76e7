// A grammar as a TokenConstraint: the grammar module's Matcher over the
// model's vocabulary (each token's bytes as it renders; control tokens never,
// end-of-generation tokens only where the grammar is complete).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "grammar/grammar.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"

namespace hearth::runtime {

// Built once per model and shared by every request.
std::shared_ptr<const grammar::Vocabulary> grammar_vocabulary(const tokenizer::Tokenizer& tokenizer);

class GrammarConstraint final : public TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const grammar::Grammar> grammar, std::shared_ptr<const grammar::Vocabulary> vocabulary);
  void fill_mask(std::vector<uint8_t>& allowed) override { matcher_.fill_mask(allowed); }
  void accept(int32_t token) override;
  bool is_complete() const override { return matcher_.is_finished(); }
  std::string completion_text() const override;
  bool is_accepting() const { return matcher_.is_accepting(); }

 private:
  grammar::Matcher matcher_;
};

}  // namespace hearth::runtime

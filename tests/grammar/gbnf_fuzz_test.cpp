// Random grammar texts: parsing either succeeds or throws hearth::Error (never
// anything else, never a hang), and a grammar that parses can be matched and
// masked. Random sentences from the grammars must parse back as whole inputs.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace hearth::grammar {
namespace {

// Grammar-like noise: mostly well-formed pieces, sometimes broken ones.
std::string random_grammar(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "\"a\"", "\"bc\"", "[a-c]", "[^x]", ".", "x", "y", "root", "(", ")", "|", "*", "+", "?", "{2}", "{1,3}",
      "{0,}", " ", "\n", "\"\\n\"", "[\\u00e9-\\u00ff]", "\"", "[", "]", "::=", "#c\n", "\"\"", "\\", "{", "}"};
  std::string text = "root ::= ";
  const size_t n = 1 + rng() % 12;
  for (size_t i = 0; i < n; ++i) text += pieces[rng() % pieces.size()] + (rng() % 3 ? " " : "");
  text += "\nx ::= \"x\" | y\ny ::= [0-9] y?\n";
  return text;
}

TEST(GbnfFuzz, RandomGrammarsFailCleanlyOrWork) {
  const auto vocab = std::make_shared<const Vocabulary>(test::synthetic_vocabulary(500, 2), std::vector<int32_t>{256});
  std::mt19937 rng(99);
  size_t parsed = 0, rejected = 0;
  std::vector<uint8_t> mask;
  for (int i = 0; i < 8000; ++i) {
    const std::string text = random_grammar(rng);
    std::shared_ptr<const Grammar> grammar;
    try {
      grammar = std::make_shared<const Grammar>(Grammar::parse(text));
    } catch (const Error&) {
      ++rejected;
      continue;
    } catch (const std::exception& e) {
      FAIL() << "non-hearth exception " << e.what() << " for:\n" << text;
    }
    ++parsed;
    // Walk: every token the mask allows must be accepted, and vice versa for
    // a sample of tokens; the final text must be accepted from scratch.
    Matcher matcher(grammar, vocab);
    std::string text_so_far;
    for (int step = 0; step < 8; ++step) {
      matcher.fill_mask(mask);
      std::vector<int32_t> allowed;
      for (size_t id = 0; id < mask.size(); ++id)
        if (mask[id] && !vocab->is_eog(int32_t(id))) allowed.push_back(int32_t(id));
      for (int probe = 0; probe < 5; ++probe) {
        const auto id = int32_t(rng() % vocab->size());
        Matcher copy = matcher;
        ASSERT_EQ(copy.accept_token(id), mask[size_t(id)] != 0) << text << " token " << id;
      }
      if (allowed.empty()) break;
      const int32_t pick = allowed[rng() % allowed.size()];
      ASSERT_TRUE(matcher.accept_token(pick));
      text_so_far += vocab->token_bytes(pick);
    }
    Matcher replay(grammar, vocab);
    EXPECT_TRUE(replay.accept_bytes(text_so_far)) << text;
    EXPECT_EQ(replay.is_accepting(), matcher.is_accepting()) << text;
  }
  std::printf("[ fuzz ] %zu grammars parsed, %zu rejected with errors\n", parsed, rejected);
  EXPECT_GT(parsed, 300u);
  EXPECT_GT(rejected, 300u);
}

}  // namespace
}  // namespace hearth::grammar

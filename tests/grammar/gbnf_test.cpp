// The GBNF dialect: parse errors with positions, the features of the dialect,
// and three grammars (arithmetic, a list of names, JSON) whose random outputs
// are checked by parsers written here, independent of the grammar engine.
#include <gtest/gtest.h>

#include <cctype>
#include <memory>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace hearth::grammar {
namespace {

std::shared_ptr<const Vocabulary> byte_vocabulary() {
  static const auto vocab = std::make_shared<const Vocabulary>(test::synthetic_vocabulary(0, 1), std::vector<int32_t>{});
  return vocab;
}

bool matches(const std::string& gbnf, std::string_view text) {
  Matcher matcher(std::make_shared<const Grammar>(Grammar::parse(gbnf)), byte_vocabulary());
  return matcher.accept_bytes(text) && matcher.is_accepting();
}

std::string parse_error(const std::string& gbnf, std::string_view root = "root") {
  try {
    Grammar::parse(gbnf, root);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GbnfParse, ErrorsNameTheProblemAndPosition) {
  struct Case {
    std::string gbnf;
    std::vector<std::string> expected;  // substrings of the message
  };
  const std::vector<Case> cases = {
      {"root ::= \"abc", {"line 1, column 10", "unterminated string"}},
      {"root ::= foo", {"line 1, column 10", "'foo'", "never defined"}},
      {"root := \"a\"", {"line 1, column 6", "expected '::='"}},
      {"root ::= \"a\"\nitem ::= [a-z\n", {"line 2, column 10", "unterminated character class"}},
      {"root ::= \"a\"{3,1}", {"maximum below its minimum"}},
      {"root ::= * \"a\"", {"line 1, column 10", "nothing before it to repeat"}},
      {"root ::= \"\\q\"", {"line 1, column 11", "unknown escape"}},
      {"root ::= \"a\"\nroot ::= \"b\"", {"line 2, column 1", "defined twice"}},
      {"root ::= (\"a\" | \"b\"", {"line 1, column 10", "expected ')'"}},
      {"root ::= \"a\" )", {"line 1, column 14", "unexpected ')'"}},
      {"root ::= [z-a]", {"reversed"}},
      {"root ::= []", {"empty character class"}},
      {"root ::= \"\\uD800\"", {"not a Unicode scalar value"}},
      {"root ::= root \"a\" | \"a\"", {"'root' is left-recursive"}},
      {"root ::= x\nx ::= (\"a\"?)*", {"left-recursive"}},
      {"root ::= \"a\"{100001}", {"above 100000"}},
  };
  for (const Case& c : cases) {
    const std::string message = parse_error(c.gbnf);
    EXPECT_FALSE(message.empty()) << "no error for: " << c.gbnf;
    for (const std::string& part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos) << "'" << message << "' lacks '" << part << "'";
  }
  EXPECT_NE(parse_error("start ::= \"a\"").find("no rule named 'root'"), std::string::npos);
  EXPECT_EQ(parse_error("start ::= \"a\"", "start"), "");
}

TEST(GbnfParse, DialectFeatures) {
  // Literals, escapes, alternation, grouping, comments, continuation lines.
  const std::string g1 = R"(# a comment line
root ::= "a\x41\u00e9" ( "x" | # after |
   "y\n" )   # trailing comment
)";
  EXPECT_TRUE(matches(g1, "aAéx"));
  EXPECT_TRUE(matches(g1, "aAéy\n"));
  EXPECT_FALSE(matches(g1, "aAéz"));
  EXPECT_FALSE(matches(g1, "aAe"));
  // Repetition forms.
  EXPECT_TRUE(matches("root ::= \"ab\"*", ""));
  EXPECT_TRUE(matches("root ::= \"ab\"*", "ababab"));
  EXPECT_FALSE(matches("root ::= \"ab\"*", "aba"));
  EXPECT_FALSE(matches("root ::= [0-9]+", ""));
  EXPECT_TRUE(matches("root ::= [0-9]+", "0123"));
  EXPECT_TRUE(matches("root ::= \"x\"?", ""));
  EXPECT_FALSE(matches("root ::= \"x\"?", "xx"));
  for (int n = 0; n <= 6; ++n) {
    const std::string text(size_t(n), 'z');
    EXPECT_EQ(matches("root ::= \"z\"{2,4}", text), n >= 2 && n <= 4) << n;
    EXPECT_EQ(matches("root ::= \"z\"{3}", text), n == 3) << n;
    EXPECT_EQ(matches("root ::= \"z\"{2,}", text), n >= 2) << n;
    EXPECT_EQ(matches("root ::= \"z\"{0,2}", text), n <= 2) << n;
  }
  // Classes: ranges, negation, escapes, non-ASCII ranges, any character.
  EXPECT_TRUE(matches("root ::= [a-cx]", "b"));
  EXPECT_FALSE(matches("root ::= [a-cx]", "d"));
  EXPECT_TRUE(matches("root ::= [^a-c]", "d"));
  EXPECT_TRUE(matches("root ::= [^a-c]", "日"));
  EXPECT_FALSE(matches("root ::= [^a-c]", "a"));
  EXPECT_TRUE(matches("root ::= [\\]\\-]", "]"));
  EXPECT_TRUE(matches("root ::= [\\]\\-]", "-"));
  EXPECT_TRUE(matches("root ::= [α-ω]+", "λόγ") == false);  // ό is outside α-ω
  EXPECT_TRUE(matches("root ::= [α-ω]+", "λογ"));
  EXPECT_TRUE(matches("root ::= .", "😀"));
  EXPECT_TRUE(matches("root ::= .", "\n"));
  EXPECT_FALSE(matches("root ::= .", "ab"));
  // Invalid UTF-8 never matches a class.
  EXPECT_FALSE(matches("root ::= .", "\xC3"));
  EXPECT_FALSE(matches("root ::= .", "\xC0\x80"));  // overlong
  EXPECT_FALSE(matches("root ::= .", "\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(matches("root ::= .", "\xF4\x90\x80\x80"));  // above U+10FFFF
  // Rules referencing each other, recursion on the right.
  EXPECT_TRUE(matches("root ::= a b\na ::= \"x\" a | \"x\"\nb ::= \"y\"", "xxxy"));
}

TEST(GbnfMatch, PartialUtf8AcrossTokens) {
  auto grammar = std::make_shared<const Grammar>(Grammar::parse("root ::= \"\\\"\" [^\"]* \"\\\"\""));
  Matcher matcher(grammar, byte_vocabulary());
  ASSERT_TRUE(matcher.accept_bytes("\"\xE6\x97"));  // 日 split after two bytes
  EXPECT_FALSE(matcher.is_accepting());
  Matcher copy = matcher;
  EXPECT_FALSE(copy.accept_bytes("\""));  // a quote can not finish a character
  EXPECT_FALSE(copy.accept_bytes("A"));
  ASSERT_TRUE(matcher.accept_bytes("\xA5"));
  ASSERT_TRUE(matcher.accept_bytes("\""));
  EXPECT_TRUE(matcher.is_accepting());
  EXPECT_TRUE(matcher.is_finished());
}

// The mask must equal "would accept_token succeed" for every token.
TEST(GbnfMatch, MaskAgreesWithTokenByTokenCheck) {
  const auto vocab =
      std::make_shared<const Vocabulary>(test::synthetic_vocabulary(3000, 7), std::vector<int32_t>{256});
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {grammar_for_json_object().source(), {"", "{", "{\"a", "{\"a\":", "{\"a\": [1", "{\"a\": \"\xC3", "{}"}},
      {"root ::= [a-z ]+ \".\"", {"", "the", "the cat"}},
  };
  for (const auto& [gbnf, prefixes] : cases) {
    auto grammar = std::make_shared<const Grammar>(Grammar::parse(gbnf));
    for (const std::string& prefix : prefixes) {
      Matcher matcher(grammar, vocab);
      ASSERT_TRUE(matcher.accept_bytes(prefix)) << prefix;
      std::vector<uint8_t> mask;
      matcher.fill_mask(mask);
      ASSERT_EQ(mask.size(), vocab->size());
      size_t n_allowed = 0;
      for (size_t id = 0; id < vocab->size(); ++id) {
        Matcher probe = matcher;
        const bool ok = probe.accept_token(int32_t(id));
        n_allowed += ok;
        ASSERT_EQ(mask[id] != 0, ok) << "prefix '" << prefix << "' token " << id << " '" << vocab->token_bytes(int32_t(id)) << "'";
      }
      EXPECT_GT(n_allowed, 0u) << prefix;
      EXPECT_EQ(mask[256] != 0, matcher.is_accepting()) << "EOG must follow acceptance";
      EXPECT_EQ(mask.back(), 0) << "the empty control token is never allowed";
    }
  }
}

TEST(GbnfMatch, MaskLogits) {
  const auto vocab = byte_vocabulary();
  Matcher matcher(std::make_shared<const Grammar>(Grammar::parse("root ::= [ab] \"c\"")), vocab);
  std::vector<float> logits(vocab->size(), 1.0f);
  matcher.mask_logits(logits);
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool allowed = vocab->token_bytes(int32_t(id)) == "a" || vocab->token_bytes(int32_t(id)) == "b";
    EXPECT_EQ(logits[id] == 1.0f, allowed) << id;
  }
  std::vector<float> wrong_size(3);
  EXPECT_THROW(matcher.mask_logits(wrong_size), Error);
}

// A tiny automaton cache restarts often; masks and acceptance must not change.
TEST(GbnfMatch, CacheRestartKeepsBehaviour) {
  std::vector<int32_t> eog;
  const auto vocab = std::make_shared<const Vocabulary>(test::stories_vocabulary(eog), eog);
  ASSERT_GT(vocab->size(), 0u);
  auto grammar = std::make_shared<const Grammar>(grammar_for_json_object());
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    Matcher small(grammar, vocab, 16), large(grammar, vocab);
    std::mt19937 rng(seed);
    std::vector<uint8_t> mask_small, mask_large;
    for (int step = 0; step < 60 && !large.is_finished(); ++step) {
      small.fill_mask(mask_small);
      large.fill_mask(mask_large);
      ASSERT_EQ(mask_small, mask_large) << "seed " << seed << " step " << step;
      std::vector<int32_t> allowed;
      for (size_t id = 0; id < mask_large.size(); ++id)
        if (mask_large[id] && !vocab->is_eog(int32_t(id))) allowed.push_back(int32_t(id));
      if (allowed.empty()) break;
      const int32_t pick = allowed[rng() % allowed.size()];
      ASSERT_TRUE(small.accept_token(pick));
      ASSERT_TRUE(large.accept_token(pick));
      ASSERT_EQ(small.is_accepting(), large.is_accepting());
    }
    EXPECT_LT(small.dfa_state_count(), large.dfa_state_count()) << "the small cache never restarted";
  }
}

// --- Independent checkers for the three grammars' outputs -----------------

// Recursive descent over + - * / ( ) unary minus and decimal numbers.
class ArithmeticChecker {
 public:
  explicit ArithmeticChecker(std::string_view s) : s_(s) {}
  bool valid() { return expr() && pos_ == s_.size(); }

 private:
  bool expr() {
    if (!term()) return false;
    while (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
      if (!term()) return false;
    }
    return true;
  }
  bool term() {
    if (!factor()) return false;
    while (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '/')) {
      ++pos_;
      if (!factor()) return false;
    }
    return true;
  }
  bool factor() {
    if (pos_ < s_.size() && s_[pos_] == '-') {
      ++pos_;
      return factor();
    }
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      if (!expr() || pos_ >= s_.size() || s_[pos_] != ')') return false;
      ++pos_;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(uint8_t(s_[pos_]))) ++pos_;
    if (pos_ == start || (s_[start] == '0' && pos_ - start > 1)) return false;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      const size_t frac = ++pos_;
      while (pos_ < s_.size() && std::isdigit(uint8_t(s_[pos_]))) ++pos_;
      if (pos_ == frac) return false;
    }
    return true;
  }
  std::string_view s_;
  size_t pos_ = 0;
};

// "Name Name, Name" : capitalized words, comma-separated.
bool valid_names_list(std::string_view s) {
  size_t pos = 0;
  for (;;) {
    for (int word = 0;; ++word) {
      if (pos >= s.size() || !std::isupper(uint8_t(s[pos]))) return false;
      ++pos;
      const size_t lower = pos;
      while (pos < s.size() && std::islower(uint8_t(s[pos]))) ++pos;
      if (pos == lower) return false;
      if (word == 0 && pos < s.size() && s[pos] == ' ' && pos + 1 < s.size() && std::isupper(uint8_t(s[pos + 1]))) {
        ++pos;
        continue;
      }
      break;
    }
    if (pos == s.size()) return true;
    if (s[pos] != ',') return false;
    ++pos;
    if (pos < s.size() && s[pos] == ' ') ++pos;
  }
}

const char* kArithmetic = R"G(root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= number | "(" expr ")" | "-" factor
number ::= ("0" | [1-9] [0-9]*) ("." [0-9]+)?
)G";

const char* kNames = R"G(root ::= name ("," " "? name)*
name ::= word (" " word)?
word ::= [A-Z] [a-z]+
)G";

const char* kJson = R"G(root ::= value
value ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws (string ws ":" ws value ws ("," ws string ws ":" ws value ws)*)? "}"
array ::= "[" ws (value ws ("," ws value ws)*)? "]"
string ::= "\"" ([^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))* "\""
number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]+)? ([eE] [-+]? [0-9]{1,2})?
ws ::= ([ \t\n] ws)?
)G";

TEST(GbnfGrammars, AcceptAndReject) {
  for (const char* ok : {"1", "1+2*3", "-(4.5/2)-0", "((1))", "--1*(2+3)/0.25"})
    EXPECT_TRUE(matches(kArithmetic, ok)) << ok;
  for (const char* bad : {"", "1+", "(1", "01", "1.", "1 + 2", "a"}) EXPECT_FALSE(matches(kArithmetic, bad)) << bad;
  for (const char* ok : {"Ann", "Ann Lee, Bo", "Ann,Bo,Cy Dee"}) EXPECT_TRUE(matches(kNames, ok)) << ok;
  for (const char* bad : {"", "ann", "Ann,", "A", "Ann  Lee", "Ann Lee Kim"}) EXPECT_FALSE(matches(kNames, bad)) << bad;
  for (const char* ok : {"{}", "[1, 2.5e-3, \"x\\u00e9\"]", "{\"a\": {\"b\": [true, null]}}", "\"\\n\"", "-0"})
    EXPECT_TRUE(matches(kJson, ok)) << ok;
  for (const char* bad : {"{", "[1,]", "{\"a\"}", "01", "\"\\x\"", "tru", "\"a\nb\""})
    EXPECT_FALSE(matches(kJson, bad)) << bad;
}

TEST(GbnfGrammars, RandomOutputsParse) {
  std::vector<int32_t> eog;
  std::vector<std::string> stories = test::stories_vocabulary(eog);
  ASSERT_FALSE(stories.empty()) << "fixture models/stories260K.gguf not found";
  const auto vocabularies = {
      std::make_shared<const Vocabulary>(stories, eog),
      std::make_shared<const Vocabulary>(test::synthetic_vocabulary(2000, 3), std::vector<int32_t>{256}),
  };
  size_t checked = 0;
  for (const auto& vocab : vocabularies) {
    for (const char* gbnf : {kArithmetic, kNames, kJson}) {
      auto grammar = std::make_shared<const Grammar>(Grammar::parse(gbnf));
      for (uint32_t seed = 1; seed <= 12; ++seed) {
        Matcher matcher(grammar, vocab);
        const test::WalkResult walk = test::random_walk(matcher, seed, seed * 5);
        ASSERT_TRUE(walk.finished) << "walk did not end: " << walk.text;
        if (gbnf == kArithmetic) {
          EXPECT_TRUE(ArithmeticChecker(walk.text).valid()) << walk.text;
        } else if (gbnf == kNames) {
          EXPECT_TRUE(valid_names_list(walk.text)) << walk.text;
        } else {
          EXPECT_TRUE(nlohmann::json::accept(walk.text)) << walk.text;
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 72u);
}

}  // namespace
}  // namespace hearth::grammar

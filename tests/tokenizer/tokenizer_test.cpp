// Behaviour around the vectors: special tokens, metadata flags, errors,
// byte-fallback pieces and the streaming decoder on split characters.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "common/fixtures.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using hearth::tokenizer::StreamDecoder;
using hearth::tokenizer::Tokenizer;

namespace {

struct Loaded {
  hearth::gguf::File file;
  Tokenizer tok;
};

Loaded load(const std::string& relative) {
  const auto path = hearth::test::fixture(relative);
  if (path.empty()) throw std::runtime_error("missing fixture " + relative);
  hearth::gguf::File file = hearth::gguf::File::open(path.string());
  Tokenizer tok = Tokenizer::from_gguf(file);
  return {std::move(file), std::move(tok)};
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Tokenizer, UnknownPreTokenizerIsAnErrorNamingIt) {
  const auto path = hearth::test::fixture("vocab/ggml-vocab-gpt-2.gguf");
  const hearth::gguf::File file = hearth::gguf::File::open(path.string());
  hearth::gguf::Metadata metadata = file.metadata();
  metadata.set("tokenizer.ggml.pre", hearth::gguf::Value::string("no-such-pre"));
  try {
    Tokenizer::from_metadata(metadata);
    FAIL() << "expected an error";
  } catch (const hearth::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, UnsupportedModelIsAnErrorNamingIt) {
  const auto path = hearth::test::fixture("vocab/ggml-vocab-gpt-2.gguf");
  const hearth::gguf::File file = hearth::gguf::File::open(path.string());
  hearth::gguf::Metadata metadata = file.metadata();
  metadata.set("tokenizer.ggml.model", hearth::gguf::Value::string("mystery"));
  try {
    Tokenizer::from_metadata(metadata);
    FAIL() << "expected an error";
  } catch (const hearth::Error& e) {
    EXPECT_NE(std::string(e.what()).find("mystery"), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, EveryRequiredPreTokenizerIsKnown) {
  const auto known = hearth::tokenizer::known_pre_tokenizers();
  for (const char* name : {"default", "gpt-2", "llama-bpe", "qwen2", "deepseek-r1-qwen", "deepseek-llm", "deepseek-coder",
                           "deepseek-v3", "falcon", "starcoder", "refact", "mpt", "command-r", "smollm", "gpt-4o",
                           "tekken", "qwen35", "llama4"})
    EXPECT_NE(std::find(known.begin(), known.end(), name), known.end()) << name;
}

TEST(Tokenizer, SpmAddsBosFromMetadataAndParsesSpecialOnlyWhenAsked) {
  const Loaded m = load("vocab/ggml-vocab-llama-spm.gguf");
  ASSERT_EQ(m.tok.bos(), 1);
  ASSERT_EQ(m.tok.eos(), 2);
  EXPECT_TRUE(m.tok.add_bos());
  const auto plain = m.tok.encode("hello", false, false);
  EXPECT_EQ(m.tok.encode("hello", true, false), concat({1}, plain));
  // "<s>" is the BOS control token: matched only with parse_special, and the
  // text after a special token gets the SentencePiece space prefix again.
  EXPECT_EQ(m.tok.encode("<s>hello", false, true), concat({1}, plain));
  const auto literal = m.tok.encode("<s>hello", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
  EXPECT_GT(literal.size(), plain.size());
}

TEST(Tokenizer, BpeSpecialTokensAndEndOfGeneration) {
  const Loaded m = load("vocab/ggml-vocab-gpt-2.gguf");
  const auto endoftext = m.tok.find_token("<|endoftext|>");
  ASSERT_TRUE(endoftext.has_value());
  EXPECT_EQ(*endoftext, m.tok.eos());
  EXPECT_TRUE(m.tok.is_eog(*endoftext));
  EXPECT_TRUE(m.tok.is_control(*endoftext));
  EXPECT_FALSE(m.tok.is_eog(m.tok.encode("a", false, false).at(0)));
  EXPECT_FALSE(m.tok.add_bos());
  EXPECT_EQ(m.tok.encode("a<|endoftext|>", false, true), concat(m.tok.encode("a", false, false), {*endoftext}));
  const auto literal = m.tok.encode("a<|endoftext|>", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), *endoftext), 0);
  // Control tokens render as their text, or as nothing when removing specials.
  EXPECT_EQ(m.tok.decode(std::vector<int32_t>{*endoftext}), "<|endoftext|>");
  EXPECT_EQ(m.tok.decode(std::vector<int32_t>{*endoftext}, true), "");
}

TEST(Tokenizer, WpmAddsClsAndSep) {
  const Loaded m = load("vocab/ggml-vocab-bert-bge.gguf");
  const auto plain = m.tok.encode("hello world", false, false);
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(m.tok.encode("hello world", true, false), concat(concat({101}, plain), {102}));
  EXPECT_EQ(m.tok.find_token("[CLS]"), std::optional<int32_t>(101));
}

TEST(Tokenizer, Phi3EndTokenIsEndOfGeneration) {
  const Loaded m = load("vocab/ggml-vocab-phi-3.gguf");
  const auto end = m.tok.find_token("<|end|>");
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(m.tok.is_eog(*end));
  EXPECT_TRUE(m.tok.is_eog(m.tok.eos()));
}

// llama.cpp strips whitespace after Phi-3's special tokens (RSTRIP).
TEST(Tokenizer, Phi3SpecialTokensStripFollowingSpaces) {
  const Loaded m = load("vocab/ggml-vocab-phi-3.gguf");
  const auto user = m.tok.find_token("<|user|>");
  ASSERT_TRUE(user.has_value());
  const auto hi = m.tok.encode("hi", false, false);
  EXPECT_EQ(m.tok.encode("<|user|>  \n hi", false, true), concat({*user}, hi));
  ASSERT_TRUE(m.tok.is_control(*user));  // so without parse_special it is plain text
  const auto literal = m.tok.encode("<|user|>  \n hi", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), *user), 0);
}

TEST(Tokenizer, EncodesConcurrently) {
  const Loaded m = load("tokvec/gpt2-pre-llama-bpe.gguf");
  const std::string text = "Concurrent 中文 tokenization, emoji \xf0\x9f\x91\x8d and numbers 1234567.";
  const auto expected = m.tok.encode(text, true, true);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        if (m.tok.encode(text, true, true) != expected) ++mismatches;
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Tokenizer, ByteFallbackPiecesAreRawBytes) {
  const Loaded m = load("vocab/ggml-vocab-llama-spm.gguf");
  const auto a = m.tok.find_token("<0x41>");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(m.tok.token_to_piece(*a), "A");
  const auto e4 = m.tok.find_token("<0xE4>");
  ASSERT_TRUE(e4.has_value());
  EXPECT_EQ(m.tok.token_to_piece(*e4), "\xE4");
}

// A character the SPM vocabulary lacks is spelled in byte tokens; streaming
// must hold the partial sequence back until its last byte arrives.
TEST(StreamDecoder, HoldsBackPartialUtf8) {
  const Loaded m = load("vocab/ggml-vocab-llama-spm.gguf");
  const std::string rare = "\xF0\xA0\x80\x8B";  // U+2000B, a CJK extension B ideograph
  const auto ids = m.tok.encode(rare, false, false);
  std::vector<int32_t> bytes;
  for (const int32_t id : ids)
    if (m.tok.token_text(id).rfind("<0x", 0) == 0) bytes.push_back(id);
  ASSERT_EQ(bytes.size(), 4u) << "expected the character to fall back to four byte tokens";

  StreamDecoder stream(m.tok);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string piece = stream.push(ids[i]);
    if (i + 1 < ids.size()) EXPECT_EQ(piece.find('\xF0'), std::string::npos) << "emitted a partial sequence";
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, m.tok.decode(ids));
  EXPECT_NE(out.find(rare), std::string::npos);
}

TEST(StreamDecoder, FlushReplacesAnUnfinishedSequence) {
  const Loaded m = load("vocab/ggml-vocab-llama-spm.gguf");
  const auto e4 = m.tok.find_token("<0xE4>");
  const auto b8 = m.tok.find_token("<0xB8>");
  ASSERT_TRUE(e4 && b8);
  StreamDecoder stream(m.tok);
  EXPECT_EQ(stream.push(*e4), "");
  EXPECT_EQ(stream.push(*b8), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");  // one U+FFFD for the unfinished sequence
}

// A grammar's completion may finish the character the last token began
// (generation cut short inside a string): the pending bytes and the
// completion make one character, not U+FFFD and a stray continuation byte.
TEST(StreamDecoder, FlushWithContinuationFinishesAPendingCharacter) {
  const Loaded m = load("vocab/ggml-vocab-llama-spm.gguf");
  const auto e4 = m.tok.find_token("<0xE4>");
  ASSERT_TRUE(e4);
  StreamDecoder stream(m.tok);
  EXPECT_EQ(stream.push(*e4), "");
  EXPECT_EQ(stream.flush("\xB8\x80\"}"), "\xE4\xB8\x80\"}");  // U+4E00, then the closing quote and brace
}

TEST(StreamDecoder, HoldsSpaceThatCleanUpMayDrop) {
  // gpt-2 cleans " ," to ",": a trailing space must wait for the next token.
  const Loaded m = load("vocab/ggml-vocab-gpt-2.gguf");
  ASSERT_TRUE(m.tok.cleans_spaces());
  const auto ids = m.tok.encode("a , b", false, false);
  StreamDecoder stream(m.tok);
  std::string out;
  for (const int32_t id : ids) out += stream.push(id);
  out += stream.flush();
  EXPECT_EQ(out, m.tok.decode(ids));
  EXPECT_EQ(out, "a, b");
}

// Random strings over the characters the clean-up rules look at, so that
// every rule meets token boundaries: streaming must still equal one-shot.
TEST(StreamDecoder, MatchesOneShotAroundCleanUpPatterns) {
  const Loaded m = load("vocab/ggml-vocab-gpt-2.gguf");
  ASSERT_TRUE(m.tok.cleans_spaces());
  const std::string alphabet = " ' ,.?!smrveax\xe4\xb8\xad";
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int length = 1 + int(rng() % 12);
    for (int i = 0; i < length; ++i) {
      const size_t k = rng() % (alphabet.size() - 2);
      // Keep the 3-byte character whole.
      text += alphabet[k] == '\xe4' ? alphabet.substr(k, 3) : alphabet.substr(k, 1);
    }
    const auto ids = m.tok.encode(text, false, false);
    StreamDecoder stream(m.tok);
    std::string joined;
    for (const int32_t id : ids) joined += stream.push(id);
    joined += stream.flush();
    ASSERT_EQ(joined, m.tok.decode(ids)) << "text '" << text << "'";
  }
}

TEST(Unicode, Utf8PrefixValidation) {
  using hearth::tokenizer::unicode::valid_utf8_prefix;
  bool incomplete = false;
  EXPECT_EQ(valid_utf8_prefix("ab\xE4\xB8", &incomplete), 2u);
  EXPECT_TRUE(incomplete);
  EXPECT_EQ(valid_utf8_prefix("ab\xE4\xB8\xAD", &incomplete), 5u);
  EXPECT_FALSE(incomplete);
  EXPECT_EQ(valid_utf8_prefix("a\xFF", &incomplete), 1u);
  EXPECT_FALSE(incomplete);
  EXPECT_EQ(valid_utf8_prefix("\xC0\x80", &incomplete), 0u);  // overlong
}

TEST(Unicode, CategoriesComeFromPcre2) {
  using namespace hearth::tokenizer::unicode;
  EXPECT_EQ(info('a').category, Category::Letter);
  EXPECT_EQ(info(0x4E2D).category, Category::Letter);  // 中
  EXPECT_EQ(info('7').category, Category::Number);
  EXPECT_EQ(info(0x0664).category, Category::Number);  // Arabic-Indic four
  EXPECT_EQ(info(',').category, Category::Punctuation);
  EXPECT_EQ(info(0x0301).category, Category::Mark);
  EXPECT_EQ(info(0x1F44D).category, Category::Symbol);  // thumbs up
  EXPECT_EQ(info(0x200B).category, Category::Control);  // zero width space (Cf)
  EXPECT_TRUE(info(0x3000).whitespace);
  EXPECT_TRUE(info(0x85).whitespace);
  EXPECT_FALSE(info(0x200B).whitespace);
  EXPECT_EQ(to_lower(0x0401), 0x0451u);  // Ё -> ё
  EXPECT_EQ(nfd_first(0x00E9), uint32_t('e'));
}

}  // namespace

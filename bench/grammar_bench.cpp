// Mask time per token: a synthetic 150K-token vocabulary (BPE-like: words with
// and without a leading space, punctuation runs, digits, whole and split
// UTF-8 characters) under a JSON-schema grammar, at several points of a
// generation. Each iteration advances to the point, then times fill_mask on a
// matcher whose automaton is warm (as it is after the first few tokens of a
// request); "cold" variants time the first mask of a fresh matcher.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace {

using hearth::grammar::Grammar;
using hearth::grammar::Matcher;
using hearth::grammar::Vocabulary;

constexpr size_t kVocabSize = 150000;

std::shared_ptr<const Vocabulary> make_vocabulary() {
  std::mt19937 rng(1234);
  std::set<std::string> seen;
  std::vector<std::string> tokens;
  auto add = [&](std::string t) {
    if (!t.empty() && seen.insert(t).second) tokens.push_back(std::move(t));
  };
  for (int b = 0; b < 256; ++b) add(std::string(1, char(b)));
  const std::string letters = "etaoinshrdlcumwfgypbvkjxqz";
  const std::string punctuation = "{}[]\":,.-_ ()'!?;/\\*#";
  // CJK and other multi-byte characters, whole and cut after 1 or 2 bytes.
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6));
    } else {
      s += char(0xE0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3F));
    }
    s += char(0x80 | (cp & 0x3F));
    return s;
  };
  while (tokens.size() < kVocabSize) {
    const unsigned kind = rng() % 100;
    std::string t;
    if (kind < 70) {  // words, Zipf-ish lengths, half with a leading space
      if (rng() % 2) t += ' ';
      const size_t length = 1 + (rng() % 6) + (rng() % 6);
      for (size_t i = 0; i < length; ++i) t += letters[std::min<size_t>(rng() % 26, rng() % 26)];
      if (rng() % 10 == 0) t[t[0] == ' ' ? 1 : 0] = char(std::toupper(t[t[0] == ' ' ? 1 : 0]));
    } else if (kind < 78) {  // punctuation runs, as JSON and code produce
      const size_t length = 1 + rng() % 4;
      for (size_t i = 0; i < length; ++i) t += punctuation[rng() % punctuation.size()];
    } else if (kind < 84) {  // numbers
      const size_t length = 1 + rng() % 4;
      for (size_t i = 0; i < length; ++i) t += char('0' + rng() % 10);
    } else if (kind < 96) {  // multi-byte characters, one to three
      const size_t count = 1 + rng() % 3;
      for (size_t i = 0; i < count; ++i) t += utf8(rng() % 2 ? 0x4E00 + rng() % 0x5000 : 0x400 + rng() % 0x100);
      if (rng() % 4 == 0) t.pop_back();  // ends mid-character
    } else {  // whitespace and newlines
      const size_t length = 1 + rng() % 8;
      for (size_t i = 0; i < length; ++i) t += rng() % 3 ? ' ' : '\n';
    }
    add(t);
  }
  tokens.push_back("");  // end of generation
  return std::make_shared<const Vocabulary>(std::move(tokens), std::vector<int32_t>{int32_t(kVocabSize)});
}

const std::shared_ptr<const Vocabulary>& vocabulary() {
  static const auto vocab = make_vocabulary();
  return vocab;
}

// FlowDown-style metadata plus a nested array of objects and numbers.
const std::shared_ptr<const Grammar>& schema_grammar() {
  static const auto grammar = std::make_shared<const Grammar>(hearth::grammar::grammar_from_json_schema(
      nlohmann::json::parse(R"({
        "type": "object",
        "properties": {
          "title": {"type": "string", "maxLength": 64},
          "emoji": {"type": "string", "maxLength": 8},
          "summary": {"type": "string"},
          "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
          "rating": {"type": "integer", "minimum": 1, "maximum": 10},
          "link": {"type": "string", "pattern": "^https?://.*$"},
          "slug": {"type": "string", "pattern": "^[a-z0-9-]+$"},
          "items": {"type": "array", "items": {"type": "object", "properties": {
              "name": {"type": "string"}, "price": {"type": "number"},
              "kind": {"enum": ["book", "film", "game"]}}, "required": ["name", "price"]}}
        },
        "required": ["title", "emoji", "summary", "tags", "rating", "items"]
      })")));
  return grammar;
}

// Prefixes of one valid document: where in a generation the mask is taken.
const std::vector<std::pair<const char*, const char*>> kPoints = {
    {"start", ""},
    {"key", "{\"emoji\": \"x\", \"items\": [], \"ra"},
    {"emoji_string", "{\"emoji\": \""},
    {"title_string", "{\"emoji\": \"x\", \"items\": [], \"rating\": 7, \"summary\": \"a\", \"tags\": [], \"title\": \"Trip to "},
    {"free_string", "{\"emoji\": \"x\", \"items\": [], \"rating\": 7, \"summary\": \"We talked about the"},
    {"number", "{\"emoji\": \"x\", \"items\": [{\"kind\": \"book\", \"name\": \"x\", \"price\": 12"},
    {"array", "{\"emoji\": \"x\", \"items\": [], \"rating\": 7, \"summary\": \"a\", \"tags\": [\"x\", "},
    {"pattern_dot", "{\"emoji\": \"x\", \"items\": [], \"link\": \"https://ex"},
    {"pattern_class", "{\"emoji\": \"x\", \"items\": [], \"link\": \"http://a\", \"rating\": 7, \"slug\": \"ab"},
};

void BM_MaskWarm(benchmark::State& state) {
  const auto& [name, prefix] = kPoints[size_t(state.range(0))];
  state.SetLabel(name);
  Matcher matcher(schema_grammar(), vocabulary());
  if (!matcher.accept_bytes(prefix)) state.SkipWithError("prefix rejected");
  std::vector<uint8_t> allowed;
  matcher.fill_mask(allowed);  // warm the automaton
  size_t n_allowed = 0;
  for (auto _ : state) {
    matcher.fill_mask(allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
  for (uint8_t a : allowed) n_allowed += a;
  state.counters["allowed"] = double(n_allowed);
  state.counters["dfa_states"] = double(matcher.dfa_state_count());
}
BENCHMARK(BM_MaskWarm)->DenseRange(0, int(kPoints.size()) - 1)->Unit(benchmark::kMicrosecond);

void BM_MaskCold(benchmark::State& state) {
  const auto& [name, prefix] = kPoints[size_t(state.range(0))];
  state.SetLabel(name);
  std::vector<uint8_t> allowed;
  for (auto _ : state) {
    state.PauseTiming();
    Matcher matcher(schema_grammar(), vocabulary());
    matcher.accept_bytes(prefix);
    state.ResumeTiming();
    matcher.fill_mask(allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
}
BENCHMARK(BM_MaskCold)->DenseRange(0, int(kPoints.size()) - 1)->Unit(benchmark::kMicrosecond);

// A whole generation: one mask and one accepted token per step, over a
// document written token by token from the vocabulary's single bytes and
// words. Reported per token.
void BM_GenerationPerToken(benchmark::State& state) {
  const std::string document =
      "{\"emoji\": \"🎬\", \"items\": [{\"kind\": \"film\", \"name\": \"Stalker\", \"price\": 12.5}], "
      "\"rating\": 9, \"summary\": \"A long talk about films, books and the weather in 東京.\", "
      "\"tags\": [\"film\", \"talk\"], \"title\": \"Films and books\"}";
  std::vector<uint8_t> allowed;
  size_t tokens = 0;
  for (auto _ : state) {
    Matcher matcher(schema_grammar(), vocabulary());
    for (char c : document) {
      matcher.fill_mask(allowed);
      const int32_t id = int32_t(uint8_t(c));  // the single-byte tokens are ids 0..255
      if (!allowed[size_t(id)] || !matcher.accept_token(id)) {
        state.SkipWithError("document rejected");
        return;
      }
      ++tokens;
    }
  }
  state.counters["per_token"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_GenerationPerToken)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

// Tokenizer throughput on 1 MB of mixed text (English prose, code, CJK,
// emoji, numbers), generated deterministically: SPM (llama-spm vocabulary)
// and byte-level BPE (GPT-2 vocabulary with the Llama-3 pre-tokenizer).
//   ninja -C build bench_tokenizer && ./build/bin/bench_tokenizer --benchmark_counters_tabular=true
//
// Recorded 2026-11-21, AMD EPYC (lscpu "AMD EPYC", 2 vCPUs shared with other
// builds, load average ~8, so figures are per CPU second): 1 MiB ->
// SPM (llama-spm) 412,731 tokens, 1.8-2.4 M tokens/s (170-230 ms);
// BPE (GPT-2 vocabulary, llama-bpe pre-tokenizer) 404,935 tokens,
// 3.9-6.6 M tokens/s (62-105 ms). Single thread.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

constexpr size_t kTextBytes = 1 << 20;

std::string mixed_text() {
  static const char* const kProse[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "It was the best of times, it was the worst of times; we had everything before us. ",
      "Local inference keeps your data on your own machine, and that's the point. ",
      "She said: \"I'll be there by 7:30 p.m., don't wait up!\" ",
      "\n\nChapter 12 \xe2\x80\x94 In which nothing much happens, again.\n",
  };
  static const char* const kCode[] = {
      "int main(int argc, char** argv) {\n  for (int i = 0; i < argc; ++i) printf(\"%s\\n\", argv[i]);\n}\n",
      "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n",
      "const auto it = std::find_if(v.begin(), v.end(), [](auto x) { return x > 42; });\n",
      "{\"model\": \"hearth\", \"temperature\": 0.7, \"stream\": true, \"stop\": [\"</s>\"]}\n",
  };
  static const char* const kCjk[] = {
      "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88\xe5\xa5\xbd\xef\xbc\x8c\xe6\x88\x91\xe4\xbb\xac"
      "\xe5\x8e\xbb\xe5\x85\xac\xe5\x9b\xad\xe6\x95\xa3\xe6\xad\xa5\xe5\x90\xa7\xe3\x80\x82",  // 今天天气很好，我们去公园散步吧。
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7"
      "\xe3\x81\x99\xe3\x80\x82",  // 日本語のテキストです。
      "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xeb\xac\xb8\xec\x9e\xa5\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4. ",  // 한국어 문장입니다.
  };
  static const char* const kEmoji[] = {
      "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ", "\xf0\x9f\x8e\x89\xf0\x9f\x94\xa5 ", "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7 ",
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 ", "\xe2\x9c\xa8 ",
  };
  std::mt19937 rng(20240521);  // fixed seed: the same text every run
  const auto pick = [&](const auto& pool) { return pool[rng() % std::size(pool)]; };
  std::string text;
  text.reserve(kTextBytes + 256);
  while (text.size() < kTextBytes) {
    switch (rng() % 10) {
      case 0: case 1: case 2: case 3: text += pick(kProse); break;
      case 4: case 5: text += pick(kCode); break;
      case 6: case 7: text += pick(kCjk); break;
      case 8: text += pick(kEmoji); break;
      default: text += std::to_string(rng() % 1000000) + (rng() % 2 ? ".5 " : ", "); break;
    }
  }
  // Cut at a character boundary.
  size_t cut = kTextBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

void run(benchmark::State& state, const char* vocab_path) {
  const hearth::gguf::File file = hearth::gguf::File::open(vocab_path);
  const hearth::tokenizer::Tokenizer tok = hearth::tokenizer::Tokenizer::from_gguf(file);
  const std::string text = mixed_text();
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = tok.encode(text, false, false);
    tokens += ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations() * text.size()));
  state.counters["tokens/s"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
  state.counters["tokens"] = double(tokens / std::max<size_t>(1, state.iterations()));
}

void BM_EncodeSpm(benchmark::State& state) { run(state, HEARTH_TOKENIZER_DATA "/vocab/ggml-vocab-llama-spm.gguf"); }
void BM_EncodeBpeLlama3(benchmark::State& state) {
  run(state, HEARTH_TOKENIZER_DATA "/tokvec/gpt2-pre-llama-bpe.gguf");
}

BENCHMARK(BM_EncodeSpm)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeBpeLlama3)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();

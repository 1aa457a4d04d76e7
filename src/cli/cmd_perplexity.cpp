// `hearth perplexity MODEL --text FILE [--ctx N] [--json]`: perplexity over a
// text, chunked as llama-perplexity does; `--kl-divergence-base FILE` saves
// the model's log-probabilities (llama-perplexity's file format), and
// `--kl-divergence --kl-divergence-base FILE` compares another model (a
// quant) against them: mean KL divergence, top-1 agreement, delta PPL.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "core/error.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct PerplexityCliOptions {
  std::string model;
  std::string text_path;
  std::string base_path;
  bool kl_divergence = false;
  int64_t chunks = -1;
  bool json = false;
  EngineOptions engine;
};

constexpr int64_t kDefaultChunk = 512;  // llama-perplexity's default context

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read text file '{}'", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<int32_t> chunk_bos(const tokenizer::Tokenizer& tok) {
  if (tok.add_eos()) fail("this model's tokenizer appends EOS; perplexity (like llama-perplexity) needs one that does not");
  if (tok.add_bos()) return tok.bos();
  return std::nullopt;
}

void print_kl(const runtime::KlDivergenceResult& r, bool json) {
  if (json) {
    const auto est = [](const runtime::Estimate& e) { return nlohmann::json{{"value", e.value}, {"sd", e.sd}}; };
    nlohmann::json j = {{"ppl", r.ppl.value},
                        {"ppl_sd", r.ppl.sd},
                        {"ppl_base", r.ppl_base.value},
                        {"ppl_base_sd", r.ppl_base.sd},
                        {"delta_ppl", est(r.delta_ppl)},
                        {"ln_ppl_ratio", est(r.ln_ppl_ratio)},
                        {"kld", est(r.kld)},
                        {"kld_median", r.kld_median},
                        {"kld_max", r.kld_max},
                        {"same_top", est(r.same_top)},
                        {"n_chunks", r.n_chunks},
                        {"n_ctx", r.n_ctx}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("====== Perplexity statistics ======\n");
  fmt::print("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}\n", r.ppl.value, r.ppl.sd);
  fmt::print("Mean PPL(base)                : {:10.6f} ± {:10.6f}\n", r.ppl_base.value, r.ppl_base.sd);
  fmt::print("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}\n", r.ln_ppl_ratio.value, r.ln_ppl_ratio.sd);
  fmt::print("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}\n", r.delta_ppl.value, r.delta_ppl.sd);
  fmt::print("\n====== KL divergence statistics ======\n");
  fmt::print("Mean    KLD: {:10.6f} ± {:10.6f}\n", r.kld.value, r.kld.sd);
  fmt::print("Maximum KLD: {:10.6f}\n", r.kld_max);
  fmt::print("Median  KLD: {:10.6f}\n", r.kld_median);
  fmt::print("Same top p: {:6.3f} ± {:6.3f} %\n", 100.0 * r.same_top.value, 100.0 * r.same_top.sd);
}

void run_perplexity(const PerplexityCliOptions& o) {
  if (o.kl_divergence) {
    if (o.base_path.empty()) fail("--kl-divergence needs --kl-divergence-base FILE (saved by a run without --kl-divergence)");
    EngineOptions engine_options = o.engine;
    engine_options.n_ctx = runtime::base_file_context(o.base_path);
    LoadedEngine engine = load_engine(o.model, engine_options);
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
    const auto result = runtime::kl_divergence(*engine.session, o.base_path, chunk_bos(tok), [&](int64_t done, int64_t total) {
      fmt::print(stderr, "\rchunk {}/{}", done, total);
      if (done == total) fmt::print(stderr, "\n");
    });
    print_kl(result, o.json);
    return;
  }
  if (o.text_path.empty()) fail("give the text to score with --text FILE");
  EngineOptions engine_options = o.engine;
  if (engine_options.n_ctx <= 0) engine_options.n_ctx = kDefaultChunk;
  LoadedEngine engine = load_engine(o.model, engine_options);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
  const std::vector<int32_t> tokens = tok.encode(read_text_file(o.text_path), /*add_special=*/true, /*parse_special=*/false);
  runtime::PerplexityOptions options;
  options.n_ctx = engine_options.n_ctx;
  options.max_chunks = o.chunks;
  options.bos = chunk_bos(tok);
  options.save_base_path = o.base_path;
  options.on_chunk = [](int64_t done, int64_t, double ppl) { fmt::print(stderr, "[{}]{:.4f},", done, ppl); };
  const runtime::PerplexityResult r = runtime::perplexity(*engine.session, tokens, options);
  fmt::print(stderr, "\n");
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"ppl", r.ppl}, {"ppl_sd", r.ppl_sd}, {"n_chunks", r.n_chunks}}.dump());
  } else {
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f} ({} chunks of {} tokens)\n", r.ppl, r.ppl_sd, r.n_chunks,
               options.n_ctx);
  }
  if (!o.base_path.empty()) fmt::print(stderr, "saved log-probabilities to {}\n", o.base_path);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityCliOptions>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity over a text, and KL divergence against a base model, as llama-perplexity");
  cmd->add_option("model", o->model, "GGUF model file")->required();
  cmd->add_option("--text,-f", o->text_path, "Text file to score");
  cmd->add_option("--chunks", o->chunks, "Score at most this many chunks (default: all)");
  cmd->add_option("--kl-divergence-base", o->base_path,
                  "Without --kl-divergence: save the log-probabilities here; with it: compare against them");
  cmd->add_flag("--kl-divergence", o->kl_divergence, "Compare with the log-probabilities of --kl-divergence-base");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  add_engine_options(cmd, o->engine);
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace hearth::cli

// `hearth run [MODEL] [-p PROMPT | --tokens FILE.json] ...`: generates text,
// streaming it to stdout, with a speed summary on stderr.
#include <cstdio>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/template_source.h"
#include "cli/commands.h"
#include "cli/image_input.h"
#include "core/read_file.h"
#include "cli/engine_options.h"
#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/grammar_constraint.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string tokens_path;
  int n_predict = 256;
  sampling::SamplerConfig sampling;
  int64_t seed = -1;
  bool ignore_eos = false;
  bool json = false;
  std::string json_schema_path;
  std::string grammar_path;
  std::string mmproj;
  std::vector<std::string> images;
  EngineOptions engine;
};

void run(const RunOptions& o) {
  const std::string model_path = o.model.empty() ? default_model_path() : o.model;
  LoadedEngine engine = load_engine(model_path, o.engine);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);

  std::vector<int32_t> prompt;
  if (!o.images.empty() || !o.mmproj.empty()) {
    if (!o.tokens_path.empty()) fail("--image takes a text prompt (-p), not --tokens");
    // Images: one user turn through the chat template; everything before
    // the last text chunk is evaluated here, the rest by generate().
    prompt = evaluate_image_prompt(engine, tok, model_path, o.mmproj, o.images, o.prompt);
  } else if (!o.tokens_path.empty()) {
    prompt = read_token_file(o.tokens_path);
  } else {
    prompt = tok.encode(o.prompt, /*add_special=*/true, /*parse_special=*/true);
  }
  if (prompt.empty()) fail("the prompt is empty: give -p TEXT or --tokens FILE");

  runtime::GenerateOptions options;
  options.n_predict = o.n_predict;
  options.ignore_eos = o.ignore_eos;
  options.sampling = o.sampling;
  options.sampling.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();

  std::unique_ptr<runtime::GrammarConstraint> constraint;
  if (!o.json_schema_path.empty() || !o.grammar_path.empty()) {
    std::shared_ptr<const grammar::Grammar> g;
    if (!o.grammar_path.empty()) {
      g = std::make_shared<const grammar::Grammar>(grammar::Grammar::parse(read_file(o.grammar_path)));
    } else {
      nlohmann::json schema;
      try {
        schema = nlohmann::json::parse(read_file(o.json_schema_path));
      } catch (const nlohmann::json::exception& e) {
        fail("'{}' is not valid JSON: {}", o.json_schema_path, e.what());
      }
      g = std::make_shared<const grammar::Grammar>(grammar::grammar_from_json_schema(schema));
    }
    constraint = std::make_unique<runtime::GrammarConstraint>(g, runtime::grammar_vocabulary(tok));
    options.constraint = constraint.get();
  }

  const auto stream = [&](std::string_view text) {
    if (o.json) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const runtime::GenerateResult result = runtime::generate(*engine.session, tok, prompt, options, stream);
  if (o.json) {
    const nlohmann::json out = {{"tokens", result.tokens}, {"text", result.text}};
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("\n");
  }
  std::fflush(stdout);
  const double decode_tps = result.decode_seconds > 0 ? double(result.tokens.size()) / result.decode_seconds : 0.0;
  fmt::print(stderr, "prompt: {} tokens in {:.1f} ms ({:.1f} tokens/s); generated: {} tokens in {:.1f} ms ({:.1f} tokens/s); "
             "seed {}; {}\n",
             result.n_prompt, result.prefill_seconds * 1e3,
             result.prefill_seconds > 0 ? result.n_prompt / result.prefill_seconds : 0.0, result.tokens.size(),
             result.decode_seconds * 1e3, decode_tps, options.sampling.seed, engine.backend->name());
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (default model: the bundled stories260K)");
  cmd->add_option("model", o->model, "GGUF model file (default: models/stories260K.gguf)");
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "Prompt text");
  cmd->add_option("--tokens", o->tokens_path, "Prompt as a JSON array of token ids, used as is")->excludes(prompt);
  cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until end of generation)")->capture_default_str();
  cmd->add_option("--temp", o->sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", o->sampling.top_k, "Top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", o->sampling.top_p, "Top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", o->sampling.min_p, "Min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", o->sampling.repeat_penalty, "Repetition penalty (1: off)")->capture_default_str();
  cmd->add_option("--presence-penalty", o->sampling.presence_penalty, "Presence penalty")->capture_default_str();
  cmd->add_option("--frequency-penalty", o->sampling.frequency_penalty, "Frequency penalty")->capture_default_str();
  cmd->add_option("--repeat-last-n", o->sampling.penalty_last_n, "Tokens the penalties look back over")->capture_default_str();
  cmd->add_option("-s,--seed", o->seed, "Random seed (default: random; printed at the end)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
  auto* schema = cmd->add_option("--json-schema", o->json_schema_path, "Constrain the output to JSON matching this JSON Schema file");
  cmd->add_option("--grammar", o->grammar_path, "Constrain the output to this GBNF grammar file (docs/grammar.md)")->excludes(schema);
  cmd->add_flag("--json", o->json, "Print {\"tokens\": [...], \"text\": \"...\"} instead of streaming");
  cmd->add_option("--mmproj", o->mmproj, "Multimodal projector GGUF for --image (default: an mmproj*.gguf beside the model that fits it)");
  cmd->add_option("--image", o->images, "Image file (PNG, JPEG, GIF, BMP, WebP); repeat for several. The prompt becomes one user turn: the images, then the text");
  add_engine_options(cmd, o->engine);
  cmd->callback([o] { run(*o); });
}

}  // namespace hearth::cli

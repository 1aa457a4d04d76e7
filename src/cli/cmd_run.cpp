// `hearth run [MODEL] [-p PROMPT | --tokens FILE.json] ...`: generates text,
// streaming it to stdout, with a speed summary on stderr. A model with a chat
// template gets -p as one user turn, and no -p on a terminal opens a chat
// (cmd_chat.cpp); --raw and template-less models continue the text.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/output/output_parser.h"
#include "chat/template_source.h"
#include "cli/chat_repl.h"
#include "cli/cmd_chat.h"
#include "cli/commands.h"
#include "cli/image_input.h"
#include "core/read_file.h"
#include "cli/engine_options.h"
#include "cli/model_ref.h"
#include "cli/preset_options.h"
#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/grammar_constraint.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  bool prompt_given = false;
  std::string tokens_path;
  bool raw = false;
  std::string chat_template_path;
  std::string system;
  int n_predict = 256;
  bool n_predict_given = false;
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

void run(RunOptions o) {
  const std::string model_path = o.model.empty() ? default_model_path() : o.model;
  LoadedEngine engine = load_engine(model_path, o.engine);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);

  std::optional<chat::ChatTemplate> chat_template;
  if (o.tokens_path.empty()) chat_template = chat_template_for_run(*engine.file, o.chat_template_path, o.raw);
  if (!o.prompt_given && o.tokens_path.empty()) {
    if (isatty(STDIN_FILENO)) {
      if (!chat_template)
        fail("{} has no chat template: give -p TEXT to continue a text, or --chat-template FILE to chat", model_path);
      ChatStart start{model_path, o.system, o.sampling, o.n_predict_given ? o.n_predict : -1};
      start.sampling.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();
      throw ExitStatus{run_interactive_chat(engine, tok, *chat_template, start)};
    }
    o.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());  // piped: the prompt
  }

  std::vector<int32_t> prompt;
  std::string rendered;
  if (!o.images.empty() || !o.mmproj.empty()) {
    if (!o.tokens_path.empty()) fail("--image takes a text prompt (-p), not --tokens");
    // Images: one user turn through the chat template; everything before
    // the last text chunk is evaluated here, the rest by generate().
    prompt = evaluate_image_prompt(engine, tok, model_path, o.mmproj, o.images, o.prompt);
  } else if (!o.tokens_path.empty()) {
    prompt = read_token_file(o.tokens_path);
  } else if (chat_template) {
    rendered = render_single_turn(*chat_template, *engine.file, o.system, o.prompt);
    prompt = tokenize_chat_prompt(tok, rendered);
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

  // With a template the reply's reasoning is shown apart (dimmed on a
  // terminal, on stderr when piped) from its answer.
  std::optional<chat::StreamingOutputParser> parser;
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  ReplyPrinter printer(stdout, terminal ? stdout : stderr, terminal);
  if (chat_template) parser.emplace(chat_template->output_config(rendered));
  const auto show = [&](const chat::OutputDelta& d) {
    printer.reasoning(d.reasoning);
    printer.content(d.content);
  };
  const auto stream = [&](std::string_view text) {
    if (o.json) return;
    if (parser) return show(parser->feed(text));
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const runtime::GenerateResult result = runtime::generate(*engine.session, tok, prompt, options, stream);
  if (parser && !o.json) {
    show(parser->finish());
    printer.finish();
  }
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
             result.decode_seconds * 1e3, decode_tps, options.sampling.seed, engine.backend_name());
  fmt::print(stderr, "{}\n", engine.placement);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (default model: the bundled stories260K)");
  cmd->add_option("model", o->model, "GGUF file, store name or pull reference (default: models/stories260K.gguf)");
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "Prompt text (a user turn when the model has a chat template)");
  cmd->add_option("--tokens", o->tokens_path, "Prompt as a JSON array of token ids, used as is")->excludes(prompt);
  auto* n_predict = cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until end of generation; chat default -1)")
                        ->capture_default_str();
  cmd->add_flag("--raw", o->raw, "Continue the prompt text as is, without the chat template");
  cmd->add_option("--chat-template", o->chat_template_path, "A .jinja chat template to use instead of the model's");
  cmd->add_option("--system", o->system, "System prompt for the chat or the -p turn");
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
  cmd->add_option("--mmproj", o->mmproj, "Multimodal projector GGUF for --image (default: a store model's own, else an mmproj*.gguf beside the model that fits it)");
  cmd->add_option("--image", o->images, "Image file (PNG, JPEG, GIF, BMP, WebP); repeat for several. The prompt becomes one user turn: the images, then the text");
  add_engine_options(cmd, o->engine);
  cmd->callback([o, cmd, prompt, n_predict] {
    o->prompt_given = prompt->count() > 0;
    o->n_predict_given = n_predict->count() > 0;
    // A store name, preset or pull reference (pulled when missing) becomes its file.
    if (!o->model.empty()) {
      const ResolvedModel resolved = resolve_model(o->model, /*pull_if_missing=*/true);
      o->model = resolved.path;
      // A store model's paired projector serves --image unless --mmproj names another.
      if (o->mmproj.empty() && !o->images.empty()) o->mmproj = resolved.mmproj;
      if (resolved.preset) {
        apply_preset_engine(*resolved.preset, *cmd, o->engine);
        apply_preset_sampling(*resolved.preset, *cmd, o->sampling, o->seed, o->n_predict);
      }
    }
    run(*o);
  });
}

}  // namespace hearth::cli

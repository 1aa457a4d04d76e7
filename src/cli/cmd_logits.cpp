// `hearth logits MODEL --tokens FILE.json --out FILE.bin`: evaluates a whole
// token sequence in one pass and writes every position's logits, as
// little-endian float32 [n_tokens][n_vocab].
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "core/error.h"

namespace hearth::cli {
namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens_path;
  std::string out_path;
  EngineOptions engine;
};

}  // namespace

std::vector<int32_t> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read token file '{}'", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail("'{}' is not valid JSON: {}", path, e.what());
  }
  if (j.is_object() && j.contains("tokens")) j = j["tokens"];
  if (!j.is_array()) fail("'{}' must hold a JSON array of token ids", path);
  std::vector<int32_t> tokens;
  for (const auto& v : j) {
    if (!v.is_number_integer()) fail("'{}': every token must be an integer id, found {}", path, v.dump());
    tokens.push_back(v.get<int32_t>());
  }
  return tokens;
}

void add_logits_command(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "Evaluate a token sequence and write every position's logits");
  cmd->add_option("model", o->model, "GGUF model file")->required();
  cmd->add_option("--tokens", o->tokens_path, "JSON array of token ids")->required();
  cmd->add_option("--out", o->out_path, "Output file: float32 [n_tokens][n_vocab], little-endian")->required();
  add_engine_options(cmd, o->engine);
  cmd->callback([o] {
    const std::vector<int32_t> tokens = read_token_file(o->tokens_path);
    LoadedEngine engine = load_engine(o->model, o->engine);
    for (int32_t t : tokens)
      if (t < 0 || t >= engine.model->hparams().n_vocab)
        fail("token id {} is outside the vocabulary of {} tokens", t, engine.model->hparams().n_vocab);
    std::vector<float> logits;
    engine.session->eval(tokens, /*all_logits=*/true, logits);
    std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(o->out_path.c_str(), "wb"), std::fclose);
    if (!out) fail("cannot create '{}'", o->out_path);
    if (std::fwrite(logits.data(), sizeof(float), logits.size(), out.get()) != logits.size())
      fail("cannot write '{}'", o->out_path);
    fmt::print(stderr, "wrote {} x {} logits to {}\n", tokens.size(), engine.model->hparams().n_vocab, o->out_path);
  });
}

}  // namespace hearth::cli

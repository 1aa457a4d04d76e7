// `hearth embed MODEL --text S [--text S2 ...] [--json]`: sentence embeddings
// from a bert / nomic-bert GGUF, pooled as the file declares and
// L2-normalised (--no-normalize keeps the raw pooled vector).
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "cli/commands.h"
#include "core/read_file.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/embedding.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct EmbedOptions {
  std::string model;
  std::vector<std::string> texts;
  std::string file;
  bool json = false;
  bool normalize = true;
  int n_threads = 0;
  std::string isa;
};

void run_embed(const EmbedOptions& o) {
  std::vector<std::string> texts = o.texts;
  if (!o.file.empty()) texts.push_back(read_file(o.file));
  if (texts.empty()) fail("give the text to embed with --text (repeatable) or --file");
  auto file = std::make_shared<const gguf::File>(gguf::File::open(o.model));
  const auto model = model::Model::load(file);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  const int threads = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const auto backend = backend::make_cpu_backend(threads, o.isa);
  int64_t longest = 1;
  std::vector<std::vector<int32_t>> tokens;
  for (const auto& t : texts) {
    tokens.push_back(tok.encode(t, /*add_special=*/true, /*parse_special=*/false));
    longest = std::max<int64_t>(longest, int64_t(tokens.back().size()));
  }
  runtime::Embedder embedder(*model, *backend, longest);
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> v = embedder.embed(tokens[i], o.normalize);
    if (o.json)
      out.push_back({{"text", texts[i]}, {"n_tokens", tokens[i].size()}, {"embedding", v}});
    else
      fmt::print("{}\n", fmt::join(v, " "));
  }
  if (o.json) fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  fmt::print(stderr, "{}: {} dimensions, {} pooling{}\n", o.model, embedder.n_embd(),
             runtime::pooling_name(embedder.pooling()), o.normalize ? ", normalised" : "");
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Print the embedding of a text from a bert / nomic-bert model");
  cmd->add_option("model", o->model, "GGUF embedding model")->required();
  cmd->add_option("--text", o->texts, "Text to embed (repeat for several; one vector per line)");
  cmd->add_option("--file", o->file, "File whose contents to embed");
  cmd->add_flag("--json", o->json, "Print [{\"text\", \"n_tokens\", \"embedding\"}] instead");
  cmd->add_flag("!--no-normalize", o->normalize, "Print the pooled vector without L2 normalisation");
  cmd->add_option("-t,--threads", o->n_threads, "Threads (default: every core)");
  cmd->add_option("--isa", o->isa, "Force a kernel set: scalar, avx2, avx512");
  cmd->callback([o] { run_embed(*o); });
}

}  // namespace hearth::cli

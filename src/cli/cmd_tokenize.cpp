// `hearth tokenize MODEL (--text S | --file F | --vectors F.inp) ...` and
// `hearth detokenize MODEL --ids 1,2,3`: the model's tokenizer, read from its
// GGUF metadata, on the command line.
#include <cstdio>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/read_file.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string file;
  std::string vectors;
  bool add_special = true;
  bool parse_special = false;
  bool json = false;
};

struct DetokenizeOptions {
  std::string model;
  std::string ids;
  bool remove_special = false;
};

// llama.cpp's test format: strings separated by "\n__ggml_vocab_test__\n"
// (test-tokenizer-0 files also end with one).
std::vector<std::string> split_vectors(const std::string& data) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> strings;
  size_t start = 0;
  while (true) {
    const size_t hit = data.find(separator, start);
    if (hit == std::string::npos) {
      const bool trailing = data.size() >= separator.size() &&
                            data.compare(data.size() - separator.size(), separator.size(), separator) == 0;
      if (start < data.size() || !trailing) strings.push_back(data.substr(start));
      break;
    }
    strings.push_back(data.substr(start, hit - start));
    start = hit + separator.size();
  }
  return strings;
}

std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  std::string item;
  std::istringstream in(list);
  while (std::getline(in, item, ',')) {
    const size_t first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    const size_t last = item.find_last_not_of(" \t");
    const std::string number = item.substr(first, last - first + 1);
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != number.size() || value < 0 || value > INT32_MAX) fail("--ids: '{}' is not a token id", number);
    ids.push_back(int32_t(value));
  }
  return ids;
}

void run_tokenize(const TokenizeOptions& o) {
  const int sources = int(!o.text.empty()) + int(!o.file.empty()) + int(!o.vectors.empty());
  if (sources != 1) fail("tokenize: give exactly one of --text, --file or --vectors");
  const gguf::File file = gguf::File::open(resolve_model_path(o.model));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);

  if (!o.vectors.empty()) {
    // The .out format: no special tokens added or parsed, one line per string.
    for (const std::string& s : split_vectors(read_file(o.vectors)))
      fmt::print("{}\n", fmt::join(tok.encode(s, false, false), " "));
    return;
  }
  const std::string text = o.file.empty() ? o.text : read_file(o.file);
  const std::vector<int32_t> ids = tok.encode(text, o.add_special, o.parse_special);
  if (o.json)
    fmt::print("{}\n", nlohmann::json(ids).dump());
  else
    fmt::print("{}\n", fmt::join(ids, " "));
}

void run_detokenize(const DetokenizeOptions& o) {
  const std::vector<int32_t> ids = parse_ids(o.ids);
  const gguf::File file = gguf::File::open(resolve_model_path(o.model));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);
  for (const int32_t id : ids)
    if (id >= tok.n_vocab()) fail("--ids: token id {} is past the vocabulary ({} tokens)", id, tok.n_vocab());
  const std::string text = tok.decode(ids, o.remove_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto t = std::make_shared<TokenizeOptions>();
  CLI::App* tokenize = app.add_subcommand("tokenize", "Print the token ids a model's tokenizer gives for a text");
  tokenize->add_option("model", t->model, "GGUF model (or vocabulary) file")->required();
  auto* text = tokenize->add_option("--text", t->text, "Text to tokenize");
  auto* file = tokenize->add_option("--file", t->file, "File whose bytes to tokenize");
  auto* vectors = tokenize->add_option("--vectors", t->vectors,
                                       "llama.cpp test strings (.inp): one line of ids per string, nothing added");
  text->excludes(file)->excludes(vectors);
  file->excludes(vectors);
  tokenize->add_flag("--add-special,!--no-add-special", t->add_special,
                     "Add BOS/EOS (CLS/SEP) as the model asks (default: on)");
  tokenize->add_flag("--parse-special", t->parse_special, "Text spelling a control token becomes that token");
  tokenize->add_flag("--json", t->json, "Print a JSON array");
  tokenize->callback([t] { run_tokenize(*t); });

  auto d = std::make_shared<DetokenizeOptions>();
  CLI::App* detokenize = app.add_subcommand("detokenize", "Print the text a list of token ids renders to");
  detokenize->add_option("model", d->model, "GGUF model (or vocabulary) file")->required();
  detokenize->add_option("--ids", d->ids, "Comma-separated token ids, e.g. 1,2,3")->required();
  detokenize->add_flag("--remove-special", d->remove_special, "Drop BOS/EOS and control tokens");
  detokenize->callback([d] { run_detokenize(*d); });
}

}  // namespace hearth::cli

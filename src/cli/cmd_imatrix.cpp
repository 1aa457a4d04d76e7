// `hearth imatrix MODEL --text FILE [-o OUT] [--ctx N] [--chunks N]
// [--output-format gguf|dat]`: the importance matrix llama-imatrix computes
// (sums of squared matmul inputs per weight column over a text), in either of
// its file formats, for `hearth quantize --imatrix` or llama-quantize.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/error.h"
#include "model/model.h"
#include "quant/imatrix.h"
#include "quant/imatrix_recorder.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct ImatrixCliOptions {
  std::string model;
  std::string text_path;
  std::string output = "imatrix.gguf";
  std::string format = "gguf";
  int64_t n_ctx = 512;  // llama-imatrix's default
  int64_t chunks = -1;
  bool include_output = false;
  int threads = 0;
  std::string isa;  // force a kernel set: scalar, avx2, avx512
};

// llama.cpp's -f: the whole file, less one trailing newline.
std::string read_prompt_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read text file '{}'", path);
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// -log p(token) from one row of logits (float exp, double sum, as llama.cpp).
double negative_log_prob(const float* logits, int64_t n_vocab, int32_t token) {
  const float max = *std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(logits[i] - max);
  return -(double(logits[token] - max) - std::log(sum));
}

void run_imatrix(const ImatrixCliOptions& o) {
  if (o.text_path.empty()) fail("give the text to collect activations over with --text FILE");
  if (o.format != "gguf" && o.format != "dat") fail("--output-format must be gguf or dat (got '{}')", o.format);
  // Dense matmuls over fewer than 16 rows are not collected (llama-imatrix's rule).
  if (o.n_ctx < 16) fail("--ctx must be at least 16 tokens (got {})", o.n_ctx);

  const std::string text = read_prompt_file(o.text_path);
  const auto file = std::make_shared<const gguf::File>(gguf::File::open(resolve_model_path(o.model)));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  if (tok.add_eos()) fail("this model's tokenizer appends EOS; llama-imatrix refuses such models too");
  const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  if (int64_t(tokens.size()) < 2 * o.n_ctx)
    fail("'{}' gives {} tokens; --ctx {} needs at least {} (two chunks)", o.text_path, tokens.size(), o.n_ctx, 2 * o.n_ctx);
  const auto model = model::Model::load(file);
  const int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const auto cpu = backend::make_cpu_backend(threads, o.isa);
  quant::ImatrixRecorder recorder(*cpu, *file, o.include_output);
  runtime::SessionConfig config;
  config.n_ctx = o.n_ctx;
  config.n_ubatch = 512;  // llama.cpp's default micro-batch: the rows each collected matmul sees
  runtime::Session session(*model, recorder, config);

  const int64_t max_chunks = int64_t(tokens.size()) / o.n_ctx;
  const int64_t n_chunks = o.chunks < 0 ? max_chunks : std::min(o.chunks, max_chunks);
  fmt::print(stderr, "computing over {} chunks of {} tokens\n", n_chunks, o.n_ctx);

  // Like llama-imatrix, also report the perplexity of the second half of each chunk.
  std::vector<float> logits;
  std::vector<int32_t> chunk(size_t(o.n_ctx));
  double nll = 0, nll2 = 0;
  int64_t scored = 0;
  const int64_t n_vocab = session.n_vocab();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * o.n_ctx, o.n_ctx, chunk.begin());
    if (tok.add_bos()) chunk[0] = tok.bos();
    session.reset();
    session.eval(chunk, /*all_logits=*/true, logits);
    const int64_t first = o.n_ctx / 2;
    for (int64_t i = first; i < o.n_ctx - 1; ++i) {
      const double v = negative_log_prob(logits.data() + i * n_vocab, n_vocab, tokens[size_t(c * o.n_ctx + i + 1)]);
      nll += v;
      nll2 += v * v;
      ++scored;
    }
    fmt::print(stderr, "[{}]{:.4f},", c + 1, std::exp(nll / double(scored)));
  }
  fmt::print(stderr, "\n");
  if (scored > 1) {
    const double mean = nll / double(scored), var = nll2 / double(scored) - mean * mean;
    const double ppl = std::exp(mean);
    fmt::print(stderr, "Final estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, std::sqrt(std::max(var, 0.0) / double(scored - 1)) * ppl);
  }

  quant::Imatrix imatrix = recorder.imatrix();
  imatrix.datasets = {o.text_path};
  imatrix.chunk_size = int32_t(o.n_ctx);
  int64_t max_count = 0;
  for (const auto& [name, e] : imatrix.entries)
    for (int64_t count : e.counts) max_count = std::max(max_count, count);
  imatrix.chunk_count = int32_t(max_count / o.n_ctx);
  if (o.format == "dat")
    quant::save_imatrix_dat(imatrix, o.output);
  else
    quant::save_imatrix_gguf(imatrix, o.output);
  fmt::print("saved the importance matrix of {} weights ({} chunks) to '{}'\n", imatrix.entries.size(),
             imatrix.chunk_count, o.output);
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto o = std::make_shared<ImatrixCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "Compute an importance matrix over a text, as llama-imatrix (for quantize --imatrix)");
  cmd->add_option("model", o->model, "GGUF model file (F32/F16/BF16 or quantized)")->required();
  cmd->add_option("--text,-f", o->text_path, "Text file to run the model over")->required();
  cmd->add_option("-o,--output", o->output, "Output file")->capture_default_str();
  cmd->add_option("--output-format", o->format, "gguf (llama-imatrix's default) or dat (its legacy format)")
      ->capture_default_str();
  cmd->add_option("-c,--ctx", o->n_ctx, "Tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "Use at most this many chunks (default: all)");
  cmd->add_flag("--process-output", o->include_output, "Also collect output.weight (llama-imatrix's --process-output)");
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: all cores)");
  cmd->add_option("--isa", o->isa, "Force a kernel set: scalar, avx2, avx512 (default: the best this CPU has)");
  cmd->callback([o] { run_imatrix(*o); });
}

}  // namespace hearth::cli

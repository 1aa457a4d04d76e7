// `hearth quantize --report MODEL --text FILE [--types A,B,...]`: what each
// quant of one model costs in quality. Scores the full-precision model on
// the text (saving its log-probabilities, as --kl-divergence-base does),
// quantizes it to each type into a temporary folder, and compares each quant
// against the saved log-probabilities: size, bits per weight, PPL, delta
// PPL, mean KL divergence and top-1 agreement, one table row per type.
#include "cli/quant_report.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/engine_options.h"
#include "core/error.h"
#include "quant/quantize_file.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

namespace fs = std::filesystem;

struct ReportRow {
  std::string type;
  double megabytes = 0, bpw = 0;
  runtime::KlDivergenceResult kl;
};

std::vector<std::string> split_types(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream s(list);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Bytes and elements of the 2-D+ weights (what bits per weight describes).
std::pair<uint64_t, uint64_t> weight_bytes_and_count(const std::string& path) {
  const gguf::File file = gguf::File::open(path);
  uint64_t bytes = 0, count = 0;
  for (const auto& t : file.tensors()) {
    bytes += t.n_bytes;
    count += t.n_elements;
  }
  return {bytes, count};
}

}  // namespace

void run_quant_report(const QuantReportOptions& o) {
  if (o.model.empty()) fail("--report needs the full-precision MODEL to quantize");
  if (o.text_path.empty()) fail("--report needs --text FILE, the text to score each quant on");
  const std::vector<std::string> types = split_types(o.types);
  if (types.empty()) fail("--types lists no type");
  for (const auto& t : types)
    if (!quant::quant_target_from_name(t)) fail("unknown quantization type '{}' in --types", t);

  const fs::path dir = fs::temp_directory_path() / fmt::format("hearth-quant-report-{}", getpid());
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string base_path = (dir / "base.logprobs").string();

  EngineOptions engine_options = o.engine;
  if (engine_options.n_ctx <= 0) engine_options.n_ctx = 512;
  double base_ppl = 0;
  {
    LoadedEngine engine = load_engine(o.model, engine_options);
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
    std::ifstream in(o.text_path, std::ios::binary);
    if (!in) fail("cannot read text file '{}'", o.text_path);
    std::ostringstream text;
    text << in.rdbuf();
    runtime::PerplexityOptions p;
    p.n_ctx = engine_options.n_ctx;
    p.max_chunks = o.chunks;
    if (tok.add_bos()) p.bos = tok.bos();
    p.save_base_path = base_path;
    base_ppl = runtime::perplexity(*engine.session, tok.encode(text.str(), true, false), p).ppl;
    fmt::print(stderr, "base model: PPL {:.4f}\n", base_ppl);
  }

  std::vector<ReportRow> rows;
  for (const std::string& name : types) {
    const quant::QuantTarget target = *quant::quant_target_from_name(name);
    const std::string quant_path = (dir / (name + ".gguf")).string();
    quant::QuantizeOptions q;
    q.threads = engine_options.n_threads > 0 ? engine_options.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    quant::quantize_file(o.model, quant_path, target, q);
    ReportRow row;
    row.type = std::string(target.name);
    const auto [bytes, count] = weight_bytes_and_count(quant_path);
    row.megabytes = double(bytes) / 1e6;
    row.bpw = count > 0 ? 8.0 * double(bytes) / double(count) : 0;
    {
      EngineOptions kl_options = engine_options;
      kl_options.n_ctx = runtime::base_file_context(base_path);
      LoadedEngine engine = load_engine(quant_path, kl_options);
      const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*engine.file);
      row.kl = runtime::kl_divergence(*engine.session, base_path, tok.add_bos() ? std::optional<int32_t>(tok.bos()) : std::nullopt);
    }
    fs::remove(quant_path);
    fmt::print(stderr, "{}: PPL {:.4f}, mean KLD {:.6f}\n", row.type, row.kl.ppl.value, row.kl.kld.value);
    rows.push_back(row);
  }

  fmt::print("base PPL {:.4f} ({} chunks of {} tokens of {})\n\n", base_ppl, rows.empty() ? 0 : rows[0].kl.n_chunks,
             engine_options.n_ctx, o.text_path);
  fmt::print("| type | size MB | bpw | PPL | ΔPPL | ΔPPL % | mean KLD | same top-1 % |\n");
  fmt::print("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const ReportRow& r : rows) {
    fmt::print("| {} | {:.2f} | {:.2f} | {:.4f} ± {:.4f} | {:+.4f} ± {:.4f} | {:+.2f} | {:.6f} ± {:.6f} | {:.2f} ± {:.2f} |\n",
               r.type, r.megabytes, r.bpw, r.kl.ppl.value, r.kl.ppl.sd, r.kl.delta_ppl.value, r.kl.delta_ppl.sd,
               100.0 * r.kl.delta_ppl.value / r.kl.ppl_base.value, r.kl.kld.value, r.kl.kld.sd,
               100.0 * r.kl.same_top.value, 100.0 * r.kl.same_top.sd);
  }
}

}  // namespace hearth::cli

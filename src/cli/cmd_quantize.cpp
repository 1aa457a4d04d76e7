// `hearth quantize IN OUT TYPE [--imatrix FILE] [--threads N]`: writes a
// quantized copy of an F32/F16/BF16 GGUF model with llama-quantize's
// per-tensor types and layout, the importance matrix steering the quantizers.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/quant_report.h"
#include "core/error.h"
#include "quant/quantize_file.h"

namespace hearth::cli {
namespace {

struct QuantizeOptions {
  std::string input;
  std::string output;
  std::string type;
  std::string imatrix;
  int threads = 0;  // 0: one per hardware thread
  bool quiet = false;
  bool report = false;
  QuantReportOptions report_options;
};

std::string joined_target_names() {
  std::string out;
  for (std::string_view name : quant::quant_target_names()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

double megabytes(uint64_t bytes) { return double(bytes) / 1e6; }

// One status line per tensor; on a terminal the line is redrawn in place.
void print_progress(const quant::QuantizeProgress& p, bool in_place) {
  const quant::TensorPlan& t = *p.tensor;
  const int width = int(fmt::format("{}", p.count).size());
  const std::string conversion =
      t.from == t.to ? fmt::format("{} (copied)", dtype_name(t.to)) : fmt::format("{} -> {}", dtype_name(t.from), dtype_name(t.to));
  const std::string line = fmt::format("[{:>{}}/{}] {:5.1f}%  {:.1f}/{:.1f} MB  {:.1f} s  {} {}", p.index, width, p.count,
                                       100.0 * double(p.bytes_read) / double(std::max<uint64_t>(p.bytes_total, 1)),
                                       megabytes(p.bytes_read), megabytes(p.bytes_total), p.elapsed_s, t.name, conversion);
  if (in_place)
    fmt::print(stderr, "\r\033[K{}{}", line, p.index == p.count ? "\n" : "");
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void run_quantize(const QuantizeOptions& options) {
  const std::optional<quant::QuantTarget> target = quant::quant_target_from_name(options.type);
  if (!target) fail("unknown quantization type '{}'; valid types: {}", options.type, joined_target_names());
  if (options.threads < 0) fail("--threads must be at least 1 (got {})", options.threads);

  quant::QuantizeOptions run;
  run.imatrix_path = options.imatrix;
  run.threads = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const bool in_place = isatty(fileno(stderr)) != 0;
  if (!options.quiet) run.on_progress = [in_place](const quant::QuantizeProgress& p) { print_progress(p, in_place); };

  const quant::QuantizeSummary s = quant::quantize_file(options.input, options.output, *target, run);
  fmt::print("quantized '{}' to {} in '{}': {} tensors ({} converted), {:.2f} MB -> {:.2f} MB, {:.2f} s ({:.1f} MB/s)\n",
             options.input, target->name, options.output, s.n_tensors, s.n_converted, megabytes(s.bytes_in),
             megabytes(s.bytes_out), s.seconds, megabytes(s.bytes_in) / std::max(s.seconds, 1e-9));
  for (DType type : s.imatrix_unused_types)
    fmt::print(stderr, "note: {} tensors were quantized without their importance weights (hearth does not use them "
               "for {} yet; llama-quantize does, so those bytes differ from its file)\n", dtype_name(type), dtype_name(type));
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto options = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Quantize an F32/F16/BF16 GGUF model to a llama.cpp file type (Q4_K_M, Q8_0, ...), as llama-quantize does");
  cmd->add_option("input", options->input, "GGUF model to read (F32, F16 or BF16 tensors)");
  cmd->add_option("output", options->output, "GGUF file to write");
  cmd->add_option("type", options->type, "Target type: " + joined_target_names());
  cmd->add_option("--imatrix", options->imatrix,
                  "Importance matrix (hearth imatrix or llama-imatrix output, GGUF or .dat); required by IQ1_S, IQ1_M, "
                  "IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ3_XXS and Q2_K_S");
  cmd->add_option("-t,--threads", options->threads, "Threads (default: all hardware threads)");
  cmd->add_flag("-q,--quiet", options->quiet, "No progress on stderr");
  cmd->add_flag("--report", options->report,
                "Instead of writing OUTPUT: quantize INPUT to each of --types and print the quality table "
                "(PPL, delta PPL, KL divergence, top-1 agreement) on --text");
  cmd->add_option("--text", options->report_options.text_path, "--report: the text to score");
  cmd->add_option("--types", options->report_options.types, "--report: comma-separated types")->capture_default_str();
  cmd->add_option("-c,--ctx", options->report_options.engine.n_ctx, "--report: tokens per chunk (default 512)");
  cmd->add_option("--chunks", options->report_options.chunks, "--report: at most this many chunks");
  cmd->callback([options] {
    if (options->report) {
      options->report_options.model = options->input;
      options->report_options.engine.n_threads = options->threads;
      run_quant_report(options->report_options);
      return;
    }
    if (options->input.empty() || options->output.empty() || options->type.empty())
      fail("quantize needs INPUT OUTPUT TYPE (or --report INPUT --text FILE)");
    run_quantize(*options);
  });
}

}  // namespace hearth::cli

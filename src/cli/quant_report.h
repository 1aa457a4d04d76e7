// `hearth quantize --report`: the quality cost of each quant of one model
// (PPL, delta PPL, KL divergence, top-1 agreement, size) as a table.
#pragma once

#include <string>

#include "cli/engine_options.h"

namespace hearth::cli {

struct QuantReportOptions {
  std::string model;      // full precision (F32/F16/BF16)
  std::string text_path;  // text to score
  std::string types = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K";
  int64_t chunks = -1;
  EngineOptions engine;   // n_ctx: chunk size (default 512), threads
};

void run_quant_report(const QuantReportOptions& options);

}  // namespace hearth::cli

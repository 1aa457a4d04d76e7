// A preset's settings applied to a command's options, where the command line
// did not set them itself.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/engine_options.h"
#include "sampling/sampler.h"
#include "store/preset.h"

namespace hearth::cli {

void apply_preset_engine(const store::Preset& p, const CLI::App& cmd, EngineOptions& engine);
void apply_preset_sampling(const store::Preset& p, const CLI::App& cmd, sampling::SamplerConfig& sampling,
                           int64_t& seed, int& n_predict);

}  // namespace hearth::cli

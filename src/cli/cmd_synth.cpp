// `hearth synth --like PRESET --type TYPE --out FILE [--seed S]`: a
// random-weight GGUF with the exact shapes of a real model.
#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"
#include "model/synth.h"

namespace hearth::cli {
namespace {

struct SynthCliOptions {
  std::string preset;
  std::string type = "f16";
  std::string out;
  uint64_t seed = 1;
  int n_threads = 0;
  bool list = false;
};

}  // namespace

void add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthCliOptions>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight GGUF with the exact shapes of a real model");
  cmd->add_option("--like", o->preset, "Preset: llama-3.2-1b, llama-3.1-8b, qwen2.5-0.5b, ... (--list)");
  cmd->add_option("--type", o->type, "Type of the 2-D weights: f32, f16, bf16, q8_0, q4_0, q4_K, ...")->capture_default_str();
  cmd->add_option("--out", o->out, "Output GGUF file");
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("-t,--threads", o->n_threads, "Threads (default: all cores)");
  cmd->add_flag("--list", o->list, "List the presets");
  cmd->callback([o] {
    if (o->list) {
      for (const auto& p : model::synth_presets())
        fmt::print("{:<14} {:<9} n_embd {:>5}  layers {:>3}  heads {:>2}/{:<2} ff {:>5}  vocab {}{}\n", p.name, p.arch,
                   p.n_embd, p.n_layer, p.n_head, p.n_head_kv, p.n_ff, p.n_vocab,
                   p.n_expert > 0 ? fmt::format("  experts {}/{}", p.n_expert_used, p.n_expert) : "");
      return;
    }
    if (o->preset.empty() || o->out.empty()) fail("synth needs --like PRESET and --out FILE (see --list)");
    const auto type = dtype_from_name(o->type);
    if (!type) fail("unknown type '{}'", o->type);
    const model::SynthPreset& preset = model::find_synth_preset(o->preset);
    model::SynthOptions options;
    options.type = *type;
    options.seed = o->seed;
    options.n_threads = o->n_threads > 0 ? o->n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    const auto start = std::chrono::steady_clock::now();
    const uint64_t n_params = model::write_synth_model(preset, options, o->out);
    fmt::print(stderr, "wrote {} ({} shapes, {:.3f}B parameters, {}) in {:.1f} s\n", o->out, preset.name, n_params / 1e9,
               dtype_name(*type), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
}

}  // namespace hearth::cli

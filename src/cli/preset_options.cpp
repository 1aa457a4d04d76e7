#include "cli/preset_options.h"

namespace hearth::cli {
namespace {

bool unset(const CLI::App& cmd, const char* name) {
  const CLI::Option* opt = cmd.get_option_no_throw(name);
  return opt == nullptr || opt->count() == 0;
}

}  // namespace

void apply_preset_engine(const store::Preset& p, const CLI::App& cmd, EngineOptions& e) {
  if (p.ctx && unset(cmd, "--ctx")) e.n_ctx = *p.ctx;
  if (p.ctk && unset(cmd, "--ctk")) e.type_k = *p.ctk;
  if (p.ctv && unset(cmd, "--ctv")) e.type_v = *p.ctv;
}

void apply_preset_sampling(const store::Preset& p, const CLI::App& cmd, sampling::SamplerConfig& s, int64_t& seed,
                           int& n_predict) {
  if (p.temperature && unset(cmd, "--temp")) s.temperature = float(*p.temperature);
  if (p.top_k && unset(cmd, "--top-k")) s.top_k = int(*p.top_k);
  if (p.top_p && unset(cmd, "--top-p")) s.top_p = float(*p.top_p);
  if (p.min_p && unset(cmd, "--min-p")) s.min_p = float(*p.min_p);
  if (p.repeat_penalty && unset(cmd, "--repeat-penalty")) s.repeat_penalty = float(*p.repeat_penalty);
  if (p.presence_penalty && unset(cmd, "--presence-penalty")) s.presence_penalty = float(*p.presence_penalty);
  if (p.frequency_penalty && unset(cmd, "--frequency-penalty")) s.frequency_penalty = float(*p.frequency_penalty);
  if (p.repeat_last_n && unset(cmd, "--repeat-last-n")) s.penalty_last_n = int(*p.repeat_last_n);
  if (p.seed && unset(cmd, "--seed")) seed = *p.seed;
  if (p.num_predict && unset(cmd, "--n-predict")) n_predict = int(*p.num_predict);
}

}  // namespace hearth::cli

// What a plan's engine really takes on this machine: the check behind the
// planner's accuracy (tests/plan, `hearth plan --measure`,
// bench/plan_accuracy.sh). A child process loads the model, makes the engine
// the plan describes and fills every sequence's whole context; its peak RSS
// growth is VmHWM after the fill minus VmRSS before loading, less the pages of
// the program's own code it ran for the first time (those are the program's,
// whatever the model).
#pragma once

#include <cstdint>
#include <string>

#include "plan/plan.h"

namespace hearth::plan {

// Forks, measures as above with `options`' context, parallel sequences,
// engine (paged: serve's pool; else run's session), K/V types (fused
// attention when V is quantized, as --fa auto), batch and threads, on the
// CPU kernels `isa` names ("" : this CPU's best). Returns the bytes, or -1
// when the child failed (its error is on stderr).
int64_t measure_peak_rss_growth(const std::string& model_path, const PlanOptions& options,
                                const std::string& isa = "");

}  // namespace hearth::plan

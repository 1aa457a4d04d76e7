// What a plan's engine really takes on this machine: the check behind the
// planner's accuracy (tests/plan, `hearth plan --measure`,
// bench/plan_accuracy.sh). A child process loads the model, makes the engine
// the plan describes and fills every sequence's whole context; its peak RSS
// growth is VmHWM after the fill minus VmRSS before loading, less the pages of
// the program's own code it ran for the first time (those are the program's,
// whatever the model).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "backend/device.h"

#include "plan/plan.h"

namespace hearth::plan {

// Forks, measures as above with `options`' context, parallel sequences,
// engine (paged: serve's pool; else run's session), K/V types (fused
// attention when V is quantized, as --fa auto), batch and threads, on the
// CPU kernels `isa` names ("" : this CPU's best). Returns the bytes, or -1
// when the child failed (its error is on stderr).
int64_t measure_peak_rss_growth(const std::string& model_path, const PlanOptions& options,
                                const std::string& isa = "");

// The device's side (a plan with options.device): a fresh backend from
// make_device (so its staging and scratch are counted), the model loaded,
// the same engine made and filled on it; returns the most device memory it
// held at once beyond what it held when made
// (DeviceCounters::peak_allocated_bytes), in bytes.
int64_t measure_device_allocation(const std::string& model_path, const PlanOptions& options,
                                  const std::function<std::unique_ptr<backend::DeviceBackend>()>& make_device);

}  // namespace hearth::plan

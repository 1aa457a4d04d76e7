// GET /metrics: each served model's engine counters and gauges in
// Prometheus' text exposition format (version 0.0.4), labelled by model id.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/engine_loop.h"

namespace hearth::server {

struct ModelMetrics {
  std::string id;
  EngineStats stats;
  int n_slots = 0;
  uint64_t kv_bytes = 0;
};

std::string prometheus_text(const std::vector<ModelMetrics>& models);
// The model registry's part: loads per model (every model loaded since the
// start) and planned bytes per loaded model.
std::string model_memory_text(const std::map<std::string, int64_t>& loads,
                              const std::vector<std::pair<std::string, uint64_t>>& loaded);

}  // namespace hearth::server

// GET /metrics: each served model's engine counters and gauges in
// Prometheus' text exposition format (version 0.0.4), labelled by model id.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/engine_loop.h"
#include "server/serve_devices.h"

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
// With devices, `on_devices` is the part of each model's plan on them.
std::string model_memory_text(const std::map<std::string, int64_t>& loads,
                              const std::vector<std::pair<std::string, uint64_t>>& loaded,
                              const std::vector<std::pair<std::string, uint64_t>>& on_devices = {});
// The devices the models run on (none: nothing): the memory each backend
// holds now and at most, and its queue submissions, labelled by device id
// and position in --devices (a device named twice is opened twice).
std::string device_text(const ServeDevices* devices);

}  // namespace hearth::server

// Device naming and selection (device.h): pure bookkeeping, no API calls, so
// it builds and is tested with or without a GPU backend.
#include "backend/device.h"

#include <algorithm>

#include <fmt/format.h>

namespace hearth::backend {

std::string_view device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::DiscreteGpu: return "discrete";
    case DeviceKind::IntegratedGpu: return "integrated";
    case DeviceKind::VirtualGpu: return "virtual";
    case DeviceKind::Cpu: return "cpu";
    case DeviceKind::Other: return "other";
  }
  return "other";
}

DeviceSelection select_devices(const std::vector<DeviceInfo>& available, const std::string& spec) {
  DeviceSelection selection;
  if (spec == "none" || spec == "cpu") {
    selection.why = "no device requested (--devices " + spec + ")";
    return selection;
  }
  if (spec.empty()) {
    // By default only real GPUs: a CPU-type device (lavapipe, SwiftShader)
    // is slower than hearth's own CPU kernels.
    for (const auto& d : available)
      if (d.kind == DeviceKind::DiscreteGpu || d.kind == DeviceKind::IntegratedGpu) selection.devices.push_back(d);
    if (selection.devices.empty()) {
      if (available.empty())
        selection.why = "no Vulkan device found";
      else
        selection.why = fmt::format("no discrete or integrated GPU among {} Vulkan device(s) ({}: {}); name one "
                                    "with --devices to use it",
                                    available.size(), available[0].id, available[0].name);
    }
    return selection;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string id = spec.substr(start, comma - start);
    start = comma + 1;
    const auto found = std::find_if(available.begin(), available.end(), [&](const DeviceInfo& d) { return d.id == id; });
    if (found == available.end()) {
      std::string known;
      for (const auto& d : available) known += (known.empty() ? "" : ", ") + d.id;
      selection.devices.clear();
      selection.why = fmt::format("device '{}' does not exist (available: {})", id, known.empty() ? "none" : known);
      return selection;
    }
    selection.devices.push_back(*found);
  }
  return selection;
}

}  // namespace hearth::backend

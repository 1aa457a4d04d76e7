// `hearth devices [--json] [--devices LIST]`: the compute devices hearth can
// use, their kinds, memory and features, and which ones it would pick.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/device.h"
#include "cli/commands.h"
#if HEARTH_VULKAN
#include "backend/vulkan/instance.h"
#endif

namespace hearth::cli {
namespace {

std::string gib(uint64_t bytes) { return fmt::format("{:.2f} GiB", bytes / double(1ull << 30)); }

std::string feature_line(const backend::DeviceFeatures& f) {
  auto yes_no = [](bool b) { return b ? "yes" : "no"; };
  return fmt::format("fp16 {}, int8 {}, int8 dot {}, cooperative matrix {}, subgroup {}, max buffer {}",
                     yes_no(f.fp16_arithmetic), yes_no(f.int8_arithmetic), yes_no(f.int8_dot_product),
                     yes_no(f.cooperative_matrix), f.subgroup_size, gib(f.max_buffer_range));
}

nlohmann::json device_json(const backend::DeviceInfo& d, bool used_by_default) {
  const auto& f = d.features;
  return {{"id", d.id},
          {"name", d.name},
          {"kind", std::string(backend::device_kind_name(d.kind))},
          {"memory_bytes", d.memory_bytes},
          {"api_version", d.api_version},
          {"driver", d.driver},
          {"default", used_by_default},
          {"features",
           {{"fp16", f.fp16_arithmetic},
            {"int8", f.int8_arithmetic},
            {"int8_dot_product", f.int8_dot_product},
            {"cooperative_matrix", f.cooperative_matrix},
            {"subgroup_size", f.subgroup_size},
            {"max_buffer_bytes", f.max_buffer_range}}}};
}

void list(bool json, const std::string& spec) {
  std::vector<backend::DeviceInfo> devices;
  std::string why = "this hearth was built without Vulkan (configure with -DHEARTH_VULKAN=ON)";
#if HEARTH_VULKAN
  why.clear();
  devices = vulkan::list_devices(&why);
#endif
  const backend::DeviceSelection defaults = backend::select_devices(devices, "");
  const backend::DeviceSelection selection = backend::select_devices(devices, spec);
  auto is_default = [&](const backend::DeviceInfo& d) {
    for (const auto& s : defaults.devices)
      if (s.id == d.id) return true;
    return false;
  };
  if (json) {
    nlohmann::json out = {{"backends", built_in_backends()}, {"devices", nlohmann::json::array()}};
    for (const auto& d : devices) out["devices"].push_back(device_json(d, is_default(d)));
    out["selected"] = nlohmann::json::array();
    for (const auto& d : selection.devices) out["selected"].push_back(d.id);
    if (devices.empty()) out["why"] = why;
    else if (selection.devices.empty()) out["why"] = selection.why;
    fmt::print("{}\n", out.dump(2));
    return;
  }
  if (devices.empty()) {
    fmt::print("no GPU device: {}; hearth runs on the CPU\n", why);
    return;
  }
  for (const auto& d : devices) {
    fmt::print("{}  {}  ({}, {} device memory, Vulkan {}){}\n", d.id, d.name, backend::device_kind_name(d.kind),
               gib(d.memory_bytes), d.api_version, is_default(d) ? "" : "  [used only when named in --devices]");
    fmt::print("    {}\n", feature_line(d.features));
  }
  if (selection.devices.empty()) {
    fmt::print("selected: none ({}); hearth runs on the CPU\n", selection.why);
  } else {
    std::string ids;
    for (const auto& d : selection.devices) ids += (ids.empty() ? "" : ",") + d.id;
    fmt::print("selected: {}\n", ids);
  }
}

}  // namespace

std::string built_in_backends() {
#if HEARTH_VULKAN
  return "cpu, vulkan";
#else
  return "cpu";
#endif
}

void add_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List the GPU (Vulkan) devices and which ones hearth would use");
  auto json = std::make_shared<bool>(false);
  auto spec = std::make_shared<std::string>();
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->add_option("--devices", *spec,
                  "Devices to use: ids such as vulkan0,vulkan1 (default: every discrete or integrated GPU; "
                  "CPU-type devices only when named), or none");
  cmd->callback([json, spec] { list(*json, *spec); });
}

}  // namespace hearth::cli

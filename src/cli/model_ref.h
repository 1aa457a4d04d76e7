// What a MODEL argument names: a GGUF path, a store name (model or preset),
// or a pull reference (hf.co/..., ms:...). The environment is read here and
// nowhere below: $HEARTH_HOME (default ~/.local/share/hearth), HF_ENDPOINT,
// HF_TOKEN, MODELSCOPE_ENDPOINT.
#pragma once

#include <optional>
#include <string>

#include "store/hub.h"
#include "store/preset.h"
#include "store/store.h"

namespace hearth::cli {

store::Store open_store();
store::HubConfig hub_config();

struct ResolvedModel {
  std::string path;                    // the GGUF file (first part)
  std::optional<store::Manifest> entry;  // the store entry named, when it was one
  std::optional<store::Preset> preset;   // the preset named, when it was one
  std::string mmproj;                    // the store entry's projector ("" when none)
};

// Resolves a MODEL argument. A pull reference not in the store is pulled
// when `pull_if_missing` (run), else refused naming the pull command.
ResolvedModel resolve_model(const std::string& arg, bool pull_if_missing);
// resolve_model(arg, false).path; a path is returned as is when it exists.
std::string resolve_model_path(const std::string& arg);

// Pulls with a progress bar (speed, ETA) on stderr when it is a terminal,
// one line per file otherwise.
store::Manifest pull_with_progress(const store::HubRef& ref, const std::string& name = "");

std::string human_size(uint64_t bytes);

// For `show NAME`: prints a store entry's manifest (and preset) unless
// `json`, and returns the GGUF path to describe. A path is returned as is.
std::string show_store_entry(const std::string& arg, bool json);

}  // namespace hearth::cli

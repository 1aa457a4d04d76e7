// Presets, the Modelfile of hearth: a TOML file naming a base model and the
// settings it runs with.
//
//   model = "hf.co/owner/repo:Q4_K_M"     # base: a store name, path or pull reference
//   template = "gemma3-tools.jinja"        # chat template overriding the GGUF's (path)
//   system = "You are a terse assistant."
//   ctx = 8192
//   ctk = "q8_0"
//   ctv = "q8_0"
//   [sampling]
//   temperature = 0.7
//   top_k = 40
//   top_p = 0.9
//   min_p = 0.05
//   repeat_penalty = 1.1
//   seed = 42
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hearth::store {

struct Preset {
  std::string model;           // the base model
  std::string template_text;   // the chat template's text (read from the file at create time), or empty
  std::string template_file;   // where it came from, for show
  std::string system;
  std::optional<int64_t> ctx;
  std::optional<std::string> ctk, ctv;
  std::optional<double> temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
  std::optional<int64_t> top_k, seed, repeat_last_n, num_predict;
};

// Parses a preset file; relative template paths are taken from the preset's
// folder. Throws naming the file, key and what was expected.
Preset parse_preset(const std::string& path);
Preset parse_preset_text(const std::string& text, const std::string& source, const std::string& base_dir);

nlohmann::json preset_to_json(const Preset& p);
Preset preset_from_json(const nlohmann::json& j);
// The preset as TOML again (what `hearth show NAME` prints).
std::string preset_to_toml(const Preset& p);

}  // namespace hearth::store

#include "store/preset.h"

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/read_file.h"

namespace hearth::store {
namespace {

const std::set<std::string> kTopKeys = {"model", "template", "system", "ctx", "ctk", "ctv", "sampling"};
const std::set<std::string> kSamplingKeys = {"temperature",      "top_k",  "top_p",         "min_p",
                                             "repeat_penalty",   "seed",   "repeat_last_n", "presence_penalty",
                                             "frequency_penalty", "num_predict"};
const std::set<std::string> kCacheTypes = {"f32", "f16", "bf16", "q8_0", "q4_0"};

template <typename T>
std::optional<T> get(const toml::table& t, const std::string& key, const std::string& where, const char* expected) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  if constexpr (std::is_same_v<T, double>) {
    if (auto v = n->value<double>()) return *v;  // integers convert too
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (n->is_integer()) return n->as_integer()->get();
  } else {
    if (n->is_string()) return n->as_string()->get();
  }
  fail("{}: '{}' must be {}", where, key, expected);
}

}  // namespace

Preset parse_preset_text(const std::string& text, const std::string& source, const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column, e.description());
  }
  for (const auto& [key, node] : root)
    if (!kTopKeys.count(std::string(key.str())))
      fail("{}: unknown key '{}' (known: model, template, system, ctx, ctk, ctv, [sampling])", source, key.str());
  Preset p;
  p.model = get<std::string>(root, "model", source, "a string (a store name, path or pull reference)").value_or("");
  if (p.model.empty()) fail("{}: 'model' is missing: name the base model (a store name, path or pull reference)", source);
  if (auto t = get<std::string>(root, "template", source, "a path to a chat template file")) {
    std::filesystem::path path(*t);
    if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
    p.template_file = path.string();
    p.template_text = read_file(path.string(), "chat template file");
  }
  p.system = get<std::string>(root, "system", source, "a string").value_or("");
  p.ctx = get<int64_t>(root, "ctx", source, "an integer (tokens)");
  if (p.ctx && *p.ctx <= 0) fail("{}: 'ctx' must be positive, got {}", source, *p.ctx);
  p.ctk = get<std::string>(root, "ctk", source, "a cache type string");
  p.ctv = get<std::string>(root, "ctv", source, "a cache type string");
  for (const auto* t : {&p.ctk, &p.ctv})
    if (*t && !kCacheTypes.count(**t)) fail("{}: cache type '{}' is unknown (use f32, f16, bf16, q8_0 or q4_0)", source, **t);
  if (const toml::node* s = root.get("sampling")) {
    const toml::table* st = s->as_table();
    if (st == nullptr) fail("{}: 'sampling' must be a table ([sampling])", source);
    const std::string where = source + " [sampling]";
    for (const auto& [key, node] : *st)
      if (!kSamplingKeys.count(std::string(key.str())))
        fail("{}: unknown key '{}' (known: temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, "
             "presence_penalty, frequency_penalty, seed, num_predict)",
             where, key.str());
    p.temperature = get<double>(*st, "temperature", where, "a number");
    p.top_p = get<double>(*st, "top_p", where, "a number");
    p.min_p = get<double>(*st, "min_p", where, "a number");
    p.repeat_penalty = get<double>(*st, "repeat_penalty", where, "a number");
    p.presence_penalty = get<double>(*st, "presence_penalty", where, "a number");
    p.frequency_penalty = get<double>(*st, "frequency_penalty", where, "a number");
    p.top_k = get<int64_t>(*st, "top_k", where, "an integer");
    p.seed = get<int64_t>(*st, "seed", where, "an integer");
    p.repeat_last_n = get<int64_t>(*st, "repeat_last_n", where, "an integer");
    p.num_predict = get<int64_t>(*st, "num_predict", where, "an integer");
  }
  return p;
}

Preset parse_preset(const std::string& path) {
  return parse_preset_text(read_file(path, "preset file"), path, std::filesystem::path(path).parent_path().string());
}

nlohmann::json preset_to_json(const Preset& p) {
  nlohmann::json j = {{"model", p.model}};
  if (!p.template_text.empty()) j["template"] = p.template_text, j["template_file"] = p.template_file;
  if (!p.system.empty()) j["system"] = p.system;
  if (p.ctx) j["ctx"] = *p.ctx;
  if (p.ctk) j["ctk"] = *p.ctk;
  if (p.ctv) j["ctv"] = *p.ctv;
  nlohmann::json s = nlohmann::json::object();
  auto put = [&](const char* k, const auto& v) {
    if (v) s[k] = *v;
  };
  put("temperature", p.temperature), put("top_p", p.top_p), put("min_p", p.min_p);
  put("repeat_penalty", p.repeat_penalty), put("presence_penalty", p.presence_penalty);
  put("frequency_penalty", p.frequency_penalty), put("top_k", p.top_k), put("seed", p.seed);
  put("repeat_last_n", p.repeat_last_n), put("num_predict", p.num_predict);
  if (!s.empty()) j["sampling"] = s;
  return j;
}

Preset preset_from_json(const nlohmann::json& j) {
  Preset p;
  p.model = j.value("model", "");
  p.template_text = j.value("template", "");
  p.template_file = j.value("template_file", "");
  p.system = j.value("system", "");
  if (j.contains("ctx")) p.ctx = j["ctx"].get<int64_t>();
  if (j.contains("ctk")) p.ctk = j["ctk"].get<std::string>();
  if (j.contains("ctv")) p.ctv = j["ctv"].get<std::string>();
  const nlohmann::json s = j.value("sampling", nlohmann::json::object());
  auto num = [&](const char* k, std::optional<double>& v) {
    if (s.contains(k)) v = s[k].get<double>();
  };
  auto integer = [&](const char* k, std::optional<int64_t>& v) {
    if (s.contains(k)) v = s[k].get<int64_t>();
  };
  num("temperature", p.temperature), num("top_p", p.top_p), num("min_p", p.min_p);
  num("repeat_penalty", p.repeat_penalty), num("presence_penalty", p.presence_penalty);
  num("frequency_penalty", p.frequency_penalty);
  integer("top_k", p.top_k), integer("seed", p.seed), integer("repeat_last_n", p.repeat_last_n);
  integer("num_predict", p.num_predict);
  return p;
}

std::string preset_to_toml(const Preset& p) {
  const nlohmann::json j = preset_to_json(p);
  toml::table t;
  t.insert("model", p.model);
  if (!p.template_file.empty()) t.insert("template", p.template_file);
  if (!p.system.empty()) t.insert("system", p.system);
  if (p.ctx) t.insert("ctx", *p.ctx);
  if (p.ctk) t.insert("ctk", *p.ctk);
  if (p.ctv) t.insert("ctv", *p.ctv);
  if (j.contains("sampling")) {
    toml::table s;
    for (const auto& [k, v] : j["sampling"].items()) {
      if (v.is_number_integer())
        s.insert(k, v.get<int64_t>());
      else
        s.insert(k, v.get<double>());
    }
    t.insert("sampling", std::move(s));
  }
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

}  // namespace hearth::store

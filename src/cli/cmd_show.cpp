// `hearth show FILE [--json] [--tensors]`: what a GGUF file holds, read
// without loading the weights.
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "core/file_type.h"
#include "gguf/gguf.h"

namespace hearth::cli {
namespace {

struct ShowOptions {
  std::string path;
  bool json = false;
  bool tensors = false;
};

std::string human_count(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", n / 1e3);
  return fmt::format("{}", n);
}

std::string human_bytes(uint64_t n) {
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", n / double(1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.2f} MiB", n / double(1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.1f} KiB", n / double(1ull << 10));
  return fmt::format("{} B", n);
}

// A hyper-parameter as the file states it: a number, or for per-layer arrays
// the distinct values ("8" or "[8, 16]"); "-" when absent.
std::string describe_key(const gguf::Metadata& md, const std::string& key) {
  const gguf::Value* v = md.find(key);
  if (v == nullptr) return "-";
  if (v->is_array()) return v->to_json(16).dump();
  if (v->is_number()) return v->to_json().dump();
  return v->type() == gguf::ValueType::String ? v->as_string(key) : v->to_json().dump();
}

struct TypeStats {
  uint64_t count = 0;
  uint64_t bytes = 0;
};

std::map<std::string, TypeStats> type_histogram(const gguf::File& file) {
  std::map<std::string, TypeStats> histogram;
  for (const auto& t : file.tensors()) {
    auto& s = histogram[std::string(dtype_name(t.type))];
    s.count += 1;
    s.bytes += t.n_bytes;
  }
  return histogram;
}

nlohmann::json tensor_json(const gguf::TensorInfo& t) {
  return {{"name", t.name},
          {"type", dtype_name(t.type)},
          {"shape", t.shape()},
          {"offset", t.offset},
          {"bytes", t.n_bytes}};
}

void print_json(const gguf::File& file) {
  const auto& md = file.metadata();
  nlohmann::json out;
  out["path"] = file.path();
  out["gguf_version"] = file.version();
  out["architecture"] = md.get_string_or("general.architecture", "");
  out["name"] = md.get_string_or("general.name", "");
  out["n_params"] = file.n_params();
  out["n_tensors"] = file.tensors().size();
  out["n_files"] = file.n_files();
  out["alignment"] = file.alignment();
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : md.entries()) metadata[key] = value.to_json(16);
  out["metadata"] = std::move(metadata);
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : file.tensors()) tensors.push_back(tensor_json(t));
  out["tensors"] = std::move(tensors);
  // Metadata strings are not always valid UTF-8; replace bad bytes rather than fail.
  fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void print_plain(const gguf::File& file, bool list_tensors) {
  const auto& md = file.metadata();
  const std::string arch = md.get_string_or("general.architecture", "");
  auto arch_key = [&](const char* suffix) { return describe_key(md, arch + "." + suffix); };
  const gguf::Value* template_value = md.find("tokenizer.chat_template");

  fmt::print("file           {}{}\n", file.path(),
             file.n_files() > 1 ? fmt::format(" ({} split files)", file.n_files()) : "");
  fmt::print("gguf version   {}\n", file.version());
  fmt::print("architecture   {}\n", arch.empty() ? "-" : arch);
  fmt::print("name           {}\n", md.get_string_or("general.name", "-"));
  fmt::print("parameters     {} ({})\n", human_count(file.n_params()), file.n_params());
  const gguf::Value* ftype = md.find("general.file_type");
  fmt::print("file type      {}\n", ftype && ftype->is_integer() ? file_type_name(ftype->as_int("general.file_type")) : "-");
  fmt::print("context length {}\n", arch_key("context_length"));
  fmt::print("layers         {}\n", arch_key("block_count"));
  fmt::print("embedding      {}\n", arch_key("embedding_length"));
  fmt::print("heads          {}\n", arch_key("attention.head_count"));
  fmt::print("kv heads       {}\n", arch_key("attention.head_count_kv"));
  fmt::print("tokenizer      {}\n", describe_key(md, "tokenizer.ggml.model"));
  fmt::print("pre-tokenizer  {}\n", describe_key(md, "tokenizer.ggml.pre"));
  const gguf::Value* tokens = md.find("tokenizer.ggml.tokens");
  fmt::print("vocabulary     {}\n", tokens && tokens->is_array() ? fmt::format("{}", tokens->size()) : "-");
  if (template_value && template_value->type() == gguf::ValueType::String)
    fmt::print("chat template  yes ({} bytes)\n", template_value->as_string("tokenizer.chat_template").size());
  else
    fmt::print("chat template  no\n");
  fmt::print("tensors        {}\n", file.tensors().size());
  uint64_t total = 0;
  for (const auto& [type, stats] : type_histogram(file)) {
    fmt::print("  {:<8} {:>5} tensors  {:>12}\n", type, stats.count, human_bytes(stats.bytes));
    total += stats.bytes;
  }
  fmt::print("  {:<8} {:>5} tensors  {:>12}\n", "total", file.tensors().size(), human_bytes(total));
  if (list_tensors) {
    fmt::print("\n{:<48} {:<8} {:<24} {:>12}\n", "tensor", "type", "shape", "bytes");
    for (const auto& t : file.tensors())
      fmt::print("{:<48} {:<8} {:<24} {:>12}\n", t.name, dtype_name(t.type), fmt::format("{}", fmt::join(t.shape(), "x")),
                 t.n_bytes);
  }
}

}  // namespace

void add_show_command(CLI::App& app) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* cmd = app.add_subcommand("show", "Describe a GGUF model file: architecture, sizes, tokenizer, tensor types");
  cmd->add_option("file", options->path, "GGUF file (the first part of a split model) or store name")->required();
  cmd->add_flag("--json", options->json, "Print one JSON object with all metadata and tensors");
  cmd->add_flag("--tensors", options->tensors, "List every tensor");
  cmd->callback([options] {
    const gguf::File file = gguf::File::open(show_store_entry(options->path, options->json));
    if (options->json)
      print_json(file);
    else
      print_plain(file, options->tensors);
  });
}

}  // namespace hearth::cli

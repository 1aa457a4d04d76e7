#include "chat/template_source.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/read_file.h"

namespace hearth::chat {

namespace {

constexpr std::string_view kTemplateKey = "tokenizer.chat_template";

}  // namespace

std::vector<std::string> chat_template_variants(const gguf::Metadata& metadata) {
  std::vector<std::string> names;
  const std::string prefix = std::string(kTemplateKey) + ".";
  for (const auto& [key, value] : metadata.entries())
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 && value.type() == gguf::ValueType::String)
      names.push_back(key.substr(prefix.size()));
  return names;
}

std::optional<std::string> chat_template_from_gguf(const gguf::Metadata& metadata, std::string_view variant) {
  std::string key(kTemplateKey);
  if (!variant.empty()) {
    key += '.';
    key += variant;
  }
  const gguf::Value* value = metadata.find(key);
  if (value == nullptr || value->type() != gguf::ValueType::String) return std::nullopt;
  return value->as_string(key);
}

std::optional<std::string> special_token_text(const gguf::Metadata& metadata, std::string_view id_key) {
  const gguf::Value* id = metadata.find(id_key);
  const gguf::Value* tokens = metadata.find("tokenizer.ggml.tokens");
  if (id == nullptr || !id->is_integer() || tokens == nullptr || !tokens->is_array() ||
      tokens->elem_type() != gguf::ValueType::String)
    return std::nullopt;
  int64_t index = id->as_int(id_key);
  const auto& texts = tokens->strings("tokenizer.ggml.tokens");
  if (index < 0 || uint64_t(index) >= texts.size()) return std::nullopt;
  return texts[size_t(index)];
}

std::string read_template_file(const std::string& path) { return read_file(path, "chat template file"); }

ChatTemplate select_chat_template(const gguf::Metadata* metadata, const TemplateChoice& choice,
                                  std::vector<std::string>& warnings) {
  if (!choice.override_path.empty()) {
    std::string name = std::filesystem::path(choice.override_path).filename().string();
    return ChatTemplate(read_template_file(choice.override_path), name);
  }
  if (metadata != nullptr) {
    if (auto source = chat_template_from_gguf(*metadata, choice.variant))
      return ChatTemplate(std::move(*source), choice.variant.empty() ? std::string(kTemplateKey)
                                                                     : std::string(kTemplateKey) + "." + choice.variant);
    if (!choice.variant.empty()) {
      auto names = chat_template_variants(*metadata);
      fail("the model has no chat template named '{}' (it has: {})", choice.variant,
           names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
    }
  }
  warnings.push_back(
      "the model has no chat template (tokenizer.chat_template); using ChatML. Pass a template file if the model "
      "expects another format.");
  return ChatTemplate::chatml();
}

}  // namespace hearth::chat

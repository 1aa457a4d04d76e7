// Where a model's chat template comes from: the GGUF's
// tokenizer.chat_template (or a named tokenizer.chat_template.<name>
// variant), an override file, or the ChatML fallback with a warning.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf.h"

namespace hearth::chat {

// Names of the named variants a GGUF carries (tokenizer.chat_template.<name>,
// e.g. "tool_use"), without the default template.
std::vector<std::string> chat_template_variants(const gguf::Metadata& metadata);

// The template text: the default when `variant` is empty, else the named one.
std::optional<std::string> chat_template_from_gguf(const gguf::Metadata& metadata, std::string_view variant = {});

// The text of the token whose id is stored under `id_key`
// (tokenizer.ggml.bos_token_id / eos_token_id); unset when absent.
std::optional<std::string> special_token_text(const gguf::Metadata& metadata, std::string_view id_key);

struct TemplateChoice {
  std::string override_path;  // a .jinja file that replaces the model's template
  std::string variant;        // a named template from the GGUF ("tool_use")
};

// Picks the template for a model: the override file if given, else the GGUF's
// (named) template, else ChatML, adding a warning to `warnings`. `metadata`
// may be null (no model). Throws hearth::Error for a missing override file
// or variant, and jinja::TemplateError for a template that does not parse.
ChatTemplate select_chat_template(const gguf::Metadata* metadata, const TemplateChoice& choice,
                                  std::vector<std::string>& warnings);

// Reads a template file; throws hearth::Error naming the path.
std::string read_template_file(const std::string& path);

}  // namespace hearth::chat

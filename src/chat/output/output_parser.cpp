#include "chat/output/output_parser.h"

#include "chat/output/formats.h"

namespace hearth::chat {

using output::ltrim;
using output::rtrim;
using output::trim;

const char* output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::Plain: return "plain";
    case OutputFormat::Hermes: return "hermes";
    case OutputFormat::Llama3: return "llama3";
    case OutputFormat::Mistral: return "mistral";
    case OutputFormat::GemmaPython: return "gemma-python";
    case OutputFormat::DeepSeekR1: return "deepseek-r1";
    case OutputFormat::Harmony: return "harmony";
    case OutputFormat::KimiK2: return "kimi-k2";
  }
  return "plain";
}

namespace {

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

output::BodyResult parse_body(std::string_view body, OutputFormat format, bool partial) {
  switch (format) {
    case OutputFormat::Hermes: return output::parse_hermes(body, partial);
    case OutputFormat::Llama3: return output::parse_llama3(body, partial);
    case OutputFormat::Mistral: return output::parse_mistral(body, partial);
    case OutputFormat::GemmaPython: return output::parse_gemma_python(body, partial);
    case OutputFormat::DeepSeekR1: return output::parse_deepseek(body, partial);
    case OutputFormat::Harmony: return output::parse_harmony(body, partial);
    case OutputFormat::KimiK2: return output::parse_kimi(body, partial);
    case OutputFormat::Plain: break;
  }
  output::BodyResult r;
  r.content = std::string(body);
  return r;
}

// Content settles from the left; trailing whitespace may still be trimmed,
// so a partial parse keeps it back.
std::string settle(std::string_view text, bool partial) { return partial ? rtrim(ltrim(text)) : trim(text); }

}  // namespace

OutputParserConfig output_config_for_template(const std::string& src) {
  OutputParserConfig config;
  if (has(src, "<|channel|>")) {
    config.format = OutputFormat::Harmony;
    config.reasoning_open.clear();
    config.reasoning_close.clear();
    return config;
  }
  if (has(src, "tool\xE2\x96\x81" "calls\xE2\x96\x81" "begin"))  // tool▁calls▁begin
    config.format = OutputFormat::DeepSeekR1;
  else if (has(src, "<|tool_calls_section_begin|>"))
    config.format = OutputFormat::KimiK2;
  else if (has(src, "[TOOL_CALLS]"))
    config.format = OutputFormat::Mistral;
  else if (has(src, "<tool_call>"))
    config.format = OutputFormat::Hermes;
  else if (has(src, "<|python_tag|>") || (has(src, "<|start_header_id|>") && has(src, "tools")))
    config.format = OutputFormat::Llama3;
  else if (has(src, "python list of the calls") || has(src, "func_name1("))
    config.format = OutputFormat::GemmaPython;
  if (has(src, "[THINK]")) {
    config.reasoning_open = "[THINK]";
    config.reasoning_close = "[/THINK]";
  } else if (!has(src, "<think>") && !has(src, "</think>")) {
    config.reasoning_open.clear();
    config.reasoning_close.clear();
  }
  return config;
}

bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag, std::string_view close_tag) {
  if (open_tag.empty()) return false;
  size_t open = prompt.rfind(open_tag);
  if (open == std::string_view::npos) return false;
  size_t close = close_tag.empty() ? std::string_view::npos : prompt.rfind(close_tag);
  if (close != std::string_view::npos && close > open) return false;
  // Only whitespace may follow the open tag: the model continues inside it.
  return trim(prompt.substr(open + open_tag.size())).empty();
}

ParsedOutput parse_output_prefix(std::string_view text, const OutputParserConfig& config, bool partial) {
  ParsedOutput out;
  std::string_view body = text;
  const std::string& open = config.reasoning_open;
  const std::string& close = config.reasoning_close;
  if (config.format != OutputFormat::Harmony && !open.empty()) {
    bool in_reasoning = config.starts_in_reasoning;
    size_t pos = 0;
    if (!in_reasoning) {
      size_t lead = 0;
      while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
      std::string_view rest = text.substr(lead);
      if (rest.substr(0, open.size()) == open) {
        in_reasoning = true;
        pos = lead + open.size();
      } else if (partial && rest.size() < open.size() && std::string_view(open).substr(0, rest.size()) == rest) {
        return out;  // may be the start of the open tag
      }
    }
    if (in_reasoning) {
      size_t end = close.empty() ? std::string_view::npos : text.find(close, pos);
      if (end == std::string_view::npos) {
        std::string_view inside = text.substr(pos);
        if (partial) {
          size_t cut = output::partial_marker_start(inside, close);
          if (cut != std::string_view::npos) inside = inside.substr(0, cut);
        }
        out.reasoning = settle(inside, partial);
        return out;
      }
      out.reasoning = trim(text.substr(pos, end - pos));
      body = text.substr(end + close.size());
    }
  }
  output::BodyResult r = parse_body(body, config.format, partial);
  out.content = settle(r.content, partial);
  if (config.format == OutputFormat::Harmony) out.reasoning = settle(r.reasoning, partial);
  out.tool_calls = std::move(r.calls);
  for (size_t i = 0; i < out.tool_calls.size(); ++i)
    if (out.tool_calls[i].id.empty()) out.tool_calls[i].id = "call_" + std::to_string(i);
  return out;
}

ParsedOutput parse_output(std::string_view text, const OutputParserConfig& config) {
  return parse_output_prefix(text, config, false);
}

OutputDelta StreamingOutputParser::delta_to(const ParsedOutput& now) {
  OutputDelta delta;
  if (now.content.size() > content_sent_ && now.content.compare(0, content_sent_, final_.content, 0, content_sent_) == 0) {
    delta.content = now.content.substr(content_sent_);
    content_sent_ = now.content.size();
  }
  if (now.reasoning.size() > reasoning_sent_ && now.reasoning.compare(0, reasoning_sent_, final_.reasoning, 0, reasoning_sent_) == 0) {
    delta.reasoning = now.reasoning.substr(reasoning_sent_);
    reasoning_sent_ = now.reasoning.size();
  }
  for (size_t i = calls_sent_; i < now.tool_calls.size(); ++i) delta.tool_calls.push_back(now.tool_calls[i]);
  calls_sent_ = std::max(calls_sent_, now.tool_calls.size());
  final_ = now;
  return delta;
}

OutputDelta StreamingOutputParser::feed(std::string_view chunk) {
  text_.append(chunk);
  return delta_to(parse_output_prefix(text_, config_, true));
}

OutputDelta StreamingOutputParser::finish() { return delta_to(parse_output_prefix(text_, config_, false)); }

}  // namespace hearth::chat

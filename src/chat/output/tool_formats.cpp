// Tool-call formats written as JSON: Hermes/Qwen <tool_call>, Llama 3.x,
// Mistral [TOOL_CALLS], DeepSeek R1 / V3 markers.
#include <functional>

#include "chat/output/formats.h"

namespace hearth::chat::output {

namespace {

// Appends `segment` to content, keeping back a marker that may be arriving.
void append_settled(std::string& content, std::string_view segment, std::string_view marker, bool partial) {
  if (partial) {
    size_t cut = partial_marker_start(segment, marker);
    if (cut != std::string_view::npos) segment = segment.substr(0, cut);
  }
  content.append(segment);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Strips a ```json fence around a call's arguments.
std::string_view unfence(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  s = s.substr(b, e - b);
  if (starts_with(s, "```")) {
    size_t nl = s.find('\n');
    s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
    size_t close = s.rfind("```");
    if (close != std::string_view::npos) s = s.substr(0, close);
  }
  return s;
}

// A JSON value when the text is one, else the text as a string: how
// XML-style calls write their parameter values.
nlohmann::ordered_json parameter_value(std::string_view raw) {
  std::string text = trim(raw);
  auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!parsed.is_discarded() && !text.empty()) return parsed;
  return nlohmann::ordered_json(std::string(raw));
}

// Text between `open` and `close` starting the search at `pos`; advances pos.
std::optional<std::string_view> between(std::string_view s, size_t& pos, std::string_view open, std::string_view close) {
  size_t a = s.find(open, pos);
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = s.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  pos = b + close.size();
  return s.substr(a + open.size(), b - a - open.size());
}

// The XML-style bodies some templates ask for inside <tool_call>:
// Qwen3-Coder "<function=NAME><parameter=K>V</parameter></function>" and
// GLM 4.5 "NAME<arg_key>K</arg_key><arg_value>V</arg_value>".
std::optional<ToolCall> xml_style_call(std::string_view inner) {
  std::string body = trim(inner);
  std::string_view b = body;
  nlohmann::ordered_json args = nlohmann::ordered_json::object();
  if (b.substr(0, 10) == "<function=") {
    size_t name_end = b.find('>');
    size_t fn_end = b.rfind("</function>");
    if (name_end == std::string_view::npos || fn_end == std::string_view::npos || fn_end < name_end) return std::nullopt;
    std::string name = trim(b.substr(10, name_end - 10));
    std::string_view params = b.substr(name_end + 1, fn_end - name_end - 1);
    size_t pos = 0;
    while (pos < params.size()) {
      size_t open = params.find("<parameter=", pos);
      if (open == std::string_view::npos) break;
      size_t key_end = params.find('>', open);
      size_t close = params.find("</parameter>", open);
      if (key_end == std::string_view::npos || close == std::string_view::npos || close < key_end) return std::nullopt;
      std::string key = trim(params.substr(open + 11, key_end - open - 11));
      std::string_view value = params.substr(key_end + 1, close - key_end - 1);
      if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
      if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
      args[key] = parameter_value(value);
      pos = close + 12;
    }
    if (name.empty()) return std::nullopt;
    return ToolCall{"", name, args.dump()};
  }
  size_t first_key = b.find("<arg_key>");
  std::string name = trim(b.substr(0, first_key));
  if (name.empty() || name.find_first_of("<>{}\" \n") != std::string::npos) return std::nullopt;
  size_t pos = first_key == std::string_view::npos ? b.size() : first_key;
  while (pos < b.size()) {
    auto key = between(b, pos, "<arg_key>", "</arg_key>");
    if (!key) break;
    auto value = between(b, pos, "<arg_value>", "</arg_value>");
    if (!value) return std::nullopt;
    args[trim(*key)] = parameter_value(*value);
  }
  return ToolCall{"", name, args.dump()};
}

std::optional<ToolCall> tagged_call(std::string_view inner) {
  auto object = parse_json_object(trim(inner));
  if (object) return call_from_json(*object);
  return xml_style_call(inner);
}

}  // namespace

BodyResult parse_hermes(std::string_view body, bool partial) {
  static constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
  BodyResult r;
  size_t pos = 0;
  for (;;) {
    size_t start = body.find(kOpen, pos);
    if (start == std::string_view::npos) {
      append_settled(r.content, body.substr(pos), kOpen, partial);
      return r;
    }
    r.content.append(body.substr(pos, start - pos));
    size_t inner = start + kOpen.size();
    size_t end = body.find(kClose, inner);
    if (end == std::string_view::npos) {
      if (partial) return r;  // the call is still arriving
      auto call = tagged_call(body.substr(inner));
      if (call)
        r.calls.push_back(std::move(*call));
      else
        r.content.append(body.substr(start));
      return r;
    }
    auto call = tagged_call(body.substr(inner, end - inner));
    if (call)
      r.calls.push_back(std::move(*call));
    else
      r.content.append(body.substr(start, end + kClose.size() - start));  // malformed: stays text
    pos = end + kClose.size();
  }
}

BodyResult parse_llama3(std::string_view body, bool partial) {
  static constexpr std::string_view kPythonTag = "<|python_tag|>";
  BodyResult r;
  size_t tag = body.find(kPythonTag);
  if (tag != std::string_view::npos) {
    r.content = std::string(body.substr(0, tag));
    if (partial) return r;  // the call ends with the output
    std::string code = trim(body.substr(tag + kPythonTag.size()));
    for (std::string_view end_token : {"<|eom_id|>", "<|eot_id|>"})
      if (code.size() >= end_token.size() && code.compare(code.size() - end_token.size(), end_token.size(), end_token) == 0)
        code = rtrim(code.substr(0, code.size() - end_token.size()));
    if (code.empty()) return r;
    if (auto object = parse_json_object(code)) {
      if (auto call = call_from_json(*object)) {
        r.calls.push_back(std::move(*call));
        return r;
      }
    }
    if (auto call = parse_python_call(code)) {
      r.calls.push_back(std::move(*call));
      return r;
    }
    // Code for the built-in code interpreter.
    r.calls.push_back(ToolCall{"", "python", nlohmann::ordered_json{{"code", code}}.dump()});
    return r;
  }
  std::string stripped = ltrim(body);
  if (!stripped.empty() && stripped[0] == '[') {
    // Llama 3.2's pythonic form: [func(a=1), other(b="x")].
    if (partial) return r;
    std::string whole = rtrim(stripped);
    auto parsed = parse_python_call_list(whole, 0);
    if (parsed && parsed->second == whole.size()) {
      r.calls = std::move(parsed->first);
      return r;
    }
    r.content = std::string(body);
    return r;
  }
  if (!stripped.empty() && stripped[0] == '{') {
    if (partial) return r;  // may be a JSON call: known only at the end
    // One call, or several separated by ';'.
    std::vector<ToolCall> calls;
    size_t pos = 0;
    bool ok = true;
    while (ok && pos < stripped.size()) {
      auto end = json_value_end(stripped, pos);
      auto object = end ? parse_json_object(std::string_view(stripped).substr(pos, *end - pos)) : std::nullopt;
      auto call = object ? call_from_json(*object) : std::nullopt;
      if (!call) {
        ok = false;
        break;
      }
      calls.push_back(std::move(*call));
      pos = *end;
      while (pos < stripped.size() && (std::isspace(static_cast<unsigned char>(stripped[pos])) || stripped[pos] == ';')) ++pos;
    }
    if (ok && !calls.empty()) {
      r.calls = std::move(calls);
      return r;
    }
    r.content = std::string(body);
    return r;
  }
  if (partial && stripped.empty()) return r;
  append_settled(r.content, body, kPythonTag, partial);
  return r;
}

BodyResult parse_mistral(std::string_view body, bool partial) {
  static constexpr std::string_view kCalls = "[TOOL_CALLS]", kArgs = "[ARGS]", kCallId = "[CALL_ID]";
  BodyResult r;
  size_t marker = body.find(kCalls);
  if (marker == std::string_view::npos) {
    append_settled(r.content, body, kCalls, partial);
    return r;
  }
  r.content = std::string(body.substr(0, marker));
  size_t pos = marker + kCalls.size();
  std::vector<ToolCall> calls;
  auto malformed = [&]() -> BodyResult {
    if (!partial) r.content.append(body.substr(marker));
    return r;
  };
  while (pos < body.size() && std::isspace(static_cast<unsigned char>(body[pos]))) ++pos;
  if (pos < body.size() && body[pos] == '[') {
    // v3: a JSON array of {"name", "arguments", "id"}.
    auto end = json_value_end(body, pos);
    if (!end) return malformed();
    auto array = nlohmann::ordered_json::parse(body.substr(pos, *end - pos), nullptr, false);
    if (array.is_discarded() || !array.is_array() || array.empty()) return malformed();
    for (const auto& item : array) {
      auto call = item.is_object() ? call_from_json(item) : std::nullopt;
      if (!call) return malformed();
      calls.push_back(std::move(*call));
    }
    r.calls = std::move(calls);
    if (!partial) r.content.append(body.substr(*end));
    return r;
  }
  // v11+: name[ARGS]{...}, repeated after further [TOOL_CALLS] markers.
  for (;;) {
    size_t args = body.find(kArgs, pos);
    if (args == std::string_view::npos) return partial ? r : malformed();
    std::string name = trim(body.substr(pos, args - pos));
    std::string id;
    if (size_t id_at = name.find(kCallId); id_at != std::string::npos) {
      id = trim(std::string_view(name).substr(id_at + kCallId.size()));
      name = trim(std::string_view(name).substr(0, id_at));
    }
    size_t json_start = args + kArgs.size();
    while (json_start < body.size() && std::isspace(static_cast<unsigned char>(body[json_start]))) ++json_start;
    auto end = json_value_end(body, json_start);
    if (!end) return partial ? r : malformed();
    auto object = parse_json_object(body.substr(json_start, *end - json_start));
    if (!object || name.empty()) return malformed();
    calls.push_back(ToolCall{id, name, object->dump()});
    pos = *end;
    size_t next = pos;
    while (next < body.size() && std::isspace(static_cast<unsigned char>(body[next]))) ++next;
    if (starts_with(body.substr(next), kCalls)) {
      pos = next + kCalls.size();
      continue;
    }
    break;
  }
  r.calls = std::move(calls);
  if (!partial) r.content.append(body.substr(pos));
  return r;
}

// The calls after `marker` in formats that write a run of delimited calls:
// (call_begin INNER call_end)* up to an optional section_end. `r` already
// holds the content before the marker and `pos` is where the first call may
// start. decode() turns one call's INNER into a ToolCall, or nullopt when it
// is malformed, in which case everything from the marker stays content.
// While streaming (partial), an unfinished call is simply not reported yet.
BodyResult parse_call_section(std::string_view body, bool partial, BodyResult r, size_t marker, size_t pos,
                              std::string_view section_end, std::string_view call_begin, std::string_view call_end,
                              const std::function<std::optional<ToolCall>(std::string_view)>& decode) {
  std::vector<ToolCall> calls;
  for (;;) {
    while (pos < body.size() && std::isspace(static_cast<unsigned char>(body[pos]))) ++pos;
    std::string_view rest = body.substr(pos);
    if (starts_with(rest, section_end)) {
      pos += section_end.size();
      break;
    }
    if (!starts_with(rest, call_begin)) {
      if (partial) {
        r.calls = std::move(calls);
        return r;
      }
      break;
    }
    size_t end = body.find(call_end, pos);
    if (end == std::string_view::npos) {
      if (partial) {
        r.calls = std::move(calls);
        return r;
      }
      r.content.append(body.substr(marker));
      return r;
    }
    std::optional<ToolCall> call = decode(body.substr(pos + call_begin.size(), end - pos - call_begin.size()));
    if (!call) {
      if (!partial) r.content.append(body.substr(marker));
      return r;
    }
    calls.push_back(std::move(*call));
    pos = end + call_end.size();
  }
  r.calls = std::move(calls);
  if (!partial) r.content.append(body.substr(pos));
  return r;
}

BodyResult parse_deepseek(std::string_view body, bool partial) {
  // DeepSeek's markers use U+FF5C (fullwidth bar) and U+2581 (lower block).
  static constexpr std::string_view kCallsBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  static constexpr std::string_view kCallsEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
  static constexpr std::string_view kCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  static constexpr std::string_view kCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
  static constexpr std::string_view kSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "sep\xEF\xBD\x9C>";
  BodyResult r;
  size_t marker = body.find(kCallsBegin);
  size_t first_call = body.find(kCallBegin);
  if (marker == std::string_view::npos || (first_call != std::string_view::npos && first_call < marker)) marker = first_call;
  if (marker == std::string_view::npos) {
    std::string_view text = body;
    if (partial) {
      size_t cut = std::min(partial_marker_start(text, kCallsBegin), partial_marker_start(text, kCallBegin));
      if (cut != std::string_view::npos) text = text.substr(0, cut);
    }
    r.content = std::string(text);
    return r;
  }
  r.content = std::string(body.substr(0, marker));
  size_t pos = marker;
  if (starts_with(body.substr(pos), kCallsBegin)) pos += kCallsBegin.size();
  return parse_call_section(body, partial, std::move(r), marker, pos, kCallsEnd, kCallBegin, kCallEnd,
                            [](std::string_view inner) -> std::optional<ToolCall> {
    size_t sep = inner.find(kSep);
    if (sep == std::string_view::npos) return std::nullopt;
    std::string head = trim(inner.substr(0, sep));
    std::string_view tail = inner.substr(sep + kSep.size());
    std::string name;
    std::string_view args;
    if (head == "function") {  // R1: function<sep>name\n```json\n{...}\n```
      size_t nl = tail.find('\n');
      name = trim(tail.substr(0, nl));
      args = nl == std::string_view::npos ? std::string_view() : unfence(tail.substr(nl + 1));
    } else {  // V3.1: name<sep>{...}
      name = head;
      args = unfence(tail);
    }
    auto object = parse_json_object(args);
    if (!object || name.empty()) return std::nullopt;
    return ToolCall{"", name, object->dump()};
  });
}

BodyResult parse_kimi(std::string_view body, bool partial) {
  static constexpr std::string_view kSectionBegin = "<|tool_calls_section_begin|>";
  static constexpr std::string_view kSectionEnd = "<|tool_calls_section_end|>";
  static constexpr std::string_view kCallBegin = "<|tool_call_begin|>";
  static constexpr std::string_view kArgsBegin = "<|tool_call_argument_begin|>";
  static constexpr std::string_view kCallEnd = "<|tool_call_end|>";
  BodyResult r;
  size_t marker = body.find(kSectionBegin);
  if (marker == std::string_view::npos) {
    append_settled(r.content, body, kSectionBegin, partial);
    return r;
  }
  r.content = std::string(body.substr(0, marker));
  return parse_call_section(body, partial, std::move(r), marker, marker + kSectionBegin.size(), kSectionEnd,
                            kCallBegin, kCallEnd, [](std::string_view inner) -> std::optional<ToolCall> {
    // functions.NAME:INDEX<|tool_call_argument_begin|>{...}; the whole
    // "functions.NAME:INDEX" is the call id Kimi's template expects back.
    size_t args = inner.find(kArgsBegin);
    if (args == std::string_view::npos) return std::nullopt;
    std::string id = trim(inner.substr(0, args));
    std::string name = id;
    if (size_t dot = name.find('.'); dot != std::string::npos) name = name.substr(dot + 1);
    if (size_t colon = name.rfind(':'); colon != std::string::npos) name = name.substr(0, colon);
    auto object = parse_json_object(trim(inner.substr(args + kArgsBegin.size())));
    if (!object || name.empty()) return std::nullopt;
    return ToolCall{id, name, object->dump()};
  });
}

}  // namespace hearth::chat::output

// Tool-call formats written as JSON: Hermes/Qwen <tool_call>, Llama 3.x,
// Mistral [TOOL_CALLS], DeepSeek R1 / V3 markers.
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
      auto object = parse_json_object(trim(body.substr(inner)));
      auto call = object ? call_from_json(*object) : std::nullopt;
      if (call)
        r.calls.push_back(std::move(*call));
      else
        r.content.append(body.substr(start));
      return r;
    }
    auto object = parse_json_object(trim(body.substr(inner, end - inner)));
    auto call = object ? call_from_json(*object) : std::nullopt;
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
  std::vector<ToolCall> calls;
  for (;;) {
    while (pos < body.size() && std::isspace(static_cast<unsigned char>(body[pos]))) ++pos;
    std::string_view rest = body.substr(pos);
    if (starts_with(rest, kCallsEnd)) {
      pos += kCallsEnd.size();
      break;
    }
    if (!starts_with(rest, kCallBegin)) {
      if (partial) {
        r.calls = std::move(calls);
        return r;
      }
      break;
    }
    size_t end = body.find(kCallEnd, pos);
    if (end == std::string_view::npos) {
      if (partial) {
        r.calls = std::move(calls);
        return r;
      }
      r.content.append(body.substr(marker));
      return r;
    }
    std::string_view inner = body.substr(pos + kCallBegin.size(), end - pos - kCallBegin.size());
    size_t sep = inner.find(kSep);
    std::optional<ToolCall> call;
    if (sep != std::string_view::npos) {
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
      if (object && !name.empty()) call = ToolCall{"", name, object->dump()};
    }
    if (!call) {
      if (!partial) r.content.append(body.substr(marker));
      return r;
    }
    calls.push_back(std::move(*call));
    pos = end + kCallEnd.size();
  }
  r.calls = std::move(calls);
  if (!partial) r.content.append(body.substr(pos));
  return r;
}

}  // namespace hearth::chat::output

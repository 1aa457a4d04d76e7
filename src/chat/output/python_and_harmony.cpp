// The Gemma python-list call format and gpt-oss harmony channels.
#include <array>

#include "chat/output/formats.h"

namespace hearth::chat::output {

namespace {

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

// Whether a call list may start at `i` ('[' then optional spaces, a name and
// '('). `complete` is false when the text ends before that can be decided.
bool call_list_start(std::string_view s, size_t i, bool& complete) {
  complete = true;
  size_t p = i + 1;
  while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
  if (p >= s.size()) {
    complete = false;
    return true;
  }
  if (!std::isalpha(static_cast<unsigned char>(s[p])) && s[p] != '_') return false;
  while (p < s.size() && is_ident_char(s[p])) ++p;
  if (p >= s.size()) {
    complete = false;
    return true;
  }
  return s[p] == '(';
}

}  // namespace

BodyResult parse_gemma_python(std::string_view body, bool partial) {
  BodyResult r;
  for (size_t i = body.find('['); i != std::string_view::npos; i = body.find('[', i + 1)) {
    bool complete = true;
    if (!call_list_start(body, i, complete)) continue;
    if (!complete) {
      // Too early to tell: keep it back while streaming.
      r.content = std::string(body.substr(0, partial ? i : body.size()));
      if (partial) return r;
      continue;
    }
    auto parsed = parse_python_call_list(body, i);
    if (!parsed) {
      if (partial) {
        // An unfinished list cannot be told from a malformed one yet.
        r.content = std::string(body.substr(0, i));
        return r;
      }
      continue;  // malformed: it stays text
    }
    r.content = std::string(body.substr(0, i));
    r.calls = std::move(parsed->first);
    if (!partial) r.content.append(body.substr(parsed->second));
    return r;
  }
  r.content = std::string(body);
  return r;
}

namespace {

constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::array<std::string_view, 4> kMessageEnds = {"<|end|>", "<|call|>", "<|return|>", "<|start|>"};

void append_part(std::string& target, std::string_view part) {
  if (!target.empty() && !part.empty()) target += "\n";
  target.append(part);
}

}  // namespace

BodyResult parse_harmony(std::string_view text, bool partial) {
  BodyResult r;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t header_end = text.find(kMessage, pos);
    if (header_end == std::string_view::npos) {
      // Text outside any message (a model that skipped the channel header).
      std::string_view rest = text.substr(pos);
      if (rest.find("<|") == std::string_view::npos && !partial) append_part(r.content, trim(rest));
      break;
    }
    std::string_view header = text.substr(pos, header_end - pos);
    std::string channel, recipient;
    if (size_t c = header.find(kChannel); c != std::string_view::npos) {
      size_t b = c + kChannel.size(), e = b;
      while (e < header.size() && !std::isspace(static_cast<unsigned char>(header[e])) && header[e] != '<') ++e;
      channel = std::string(header.substr(b, e - b));
    }
    if (size_t t = header.find("to="); t != std::string_view::npos) {
      size_t b = t + 3, e = b;
      while (e < header.size() && !std::isspace(static_cast<unsigned char>(header[e])) && header[e] != '<') ++e;
      recipient = std::string(header.substr(b, e - b));
    }
    size_t body_start = header_end + kMessage.size();
    size_t body_end = std::string_view::npos;
    std::string_view end_marker;
    for (auto marker : kMessageEnds) {
      size_t at = text.find(marker, body_start);
      if (at < body_end) {
        body_end = at;
        end_marker = marker;
      }
    }
    bool complete = body_end != std::string_view::npos;
    std::string_view body = text.substr(body_start, complete ? body_end - body_start : std::string_view::npos);
    if (!complete && partial) {
      size_t cut = body.rfind("<|");
      if (cut != std::string_view::npos && body.find("|>", cut) == std::string_view::npos) body = body.substr(0, cut);
      else if (!body.empty() && body.back() == '<') body = body.substr(0, body.size() - 1);
    }
    const std::string_view prefix = "functions.";
    if (!recipient.empty()) {
      if (complete || !partial) {
        std::string name = recipient.compare(0, prefix.size(), prefix) == 0 ? recipient.substr(prefix.size()) : recipient;
        auto object = parse_json_object(trim(body));
        if (object && !name.empty())
          r.calls.push_back(ToolCall{"", name, object->dump()});
        else
          append_part(r.content, text.substr(pos, complete ? body_end - pos : std::string_view::npos));
      }
    } else if (channel == "analysis") {
      append_part(r.reasoning, body);
    } else {
      append_part(r.content, body);  // final, or a commentary preamble
    }
    if (!complete) break;
    pos = body_end + end_marker.size();
  }
  return r;
}

}  // namespace hearth::chat::output

// JSON from untrusted text with its nesting depth bounded while parsing.
// nlohmann's parser itself keeps its stack on the heap, but everything that
// later walks a value (conversion between json types, dump, templates, the
// schema compiler) recurses once per level: a 150 KB body of '[' would
// overflow the stack there. The SAX parser stops at the first container past
// `max_depth`, before building anything deeper.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hearth {

// Deep enough for any real request (a tool's JSON Schema nests a few levels
// per property); shallow enough that recursive consumers stay far from the
// stack's end.
inline constexpr size_t kMaxJsonDepth = 128;

template <typename Json>
struct BoundedJsonResult {
  Json value;               // discarded unless ok
  bool ok = false;
  bool too_deep = false;    // the text nests past the limit
  std::string error;        // why parsing failed (position included)
};

namespace detail {

template <typename Json>
class DepthBoundedSax : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
  DepthBoundedSax(Json& out, size_t max_depth, size_t text_size)
      : Base(out, /*allow_exceptions=*/false), max_depth_(max_depth), text_size_(text_size) {}

  bool start_object(std::size_t n) {
    if (++depth_ > max_depth_) return too_deep_ = true, false;
    return Base::start_object(n);
  }
  bool end_object() { --depth_; return Base::end_object(); }
  bool start_array(std::size_t n) {
    if (++depth_ > max_depth_) return too_deep_ = true, false;
    return Base::start_array(n);
  }
  bool end_array() { --depth_; return Base::end_array(); }
  template <typename Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& e) {
    // The library's own text (exception ids, internals) is not for clients.
    (void)e;
    error_ = position >= text_size_ ? std::string("the text ends early")
                                    : "unexpected '" + printable(token) + "' at byte " + std::to_string(position);
    return false;
  }
  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  static std::string printable(const std::string& token) {
    std::string out;
    for (char c : token.substr(0, 16)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
    return out;
  }

  size_t max_depth_;
  size_t text_size_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

}  // namespace detail

// Parses `text`; on failure `value` is discarded and `error` says why.
template <typename Json = nlohmann::json>
BoundedJsonResult<Json> parse_bounded_json(std::string_view text, size_t max_depth = kMaxJsonDepth) {
  BoundedJsonResult<Json> result;
  detail::DepthBoundedSax<Json> sax(result.value, max_depth, text.size());
  const bool parsed = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                                      /*strict=*/true);
  result.ok = parsed && !sax.too_deep() && sax.error().empty();
  result.too_deep = sax.too_deep();
  if (!result.ok) {
    result.value = Json(Json::value_t::discarded);
    result.error = sax.too_deep() ? "it nests deeper than " + std::to_string(max_depth) + " levels"
                                  : (sax.error().empty() ? std::string("invalid JSON") : sax.error());
  }
  return result;
}

}  // namespace hearth

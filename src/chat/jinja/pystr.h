// Python str semantics on UTF-8 strings: Python strings are sequences of code
// points, so lengths, indexing, slicing and strip sets work on code points.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::jinja::pystr {

std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view code_points);
void append_utf8(std::string& out, char32_t cp);
size_t length(std::string_view utf8);
bool is_ascii(std::string_view s);

// str.isspace() for one code point.
bool is_space(char32_t c);
// str.isprintable() for one code point (an approximation of Unicode's
// categories that covers what chat text holds: controls, format characters
// and separators other than the space are not printable).
bool is_printable(char32_t c);

// strip/lstrip/rstrip with Python's default (whitespace) or a character set.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep, maxsplit); sep unset = runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
// str.splitlines() (without keepends).
std::vector<std::string> splitlines(std::string_view s);
std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);
std::string title(std::string_view s);

// Python slice semantics: resolves start/stop/step (any may be unset) for a
// sequence of `length` items into the indices it selects.
std::vector<int64_t> slice_indices(int64_t length, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step);

}  // namespace hearth::chat::jinja::pystr

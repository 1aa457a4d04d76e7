// Python methods on values (str.split, dict.items, ...), % formatting,
// str.format and strftime, with the sandbox's refusal of mutating methods.
#include <cmath>

#include <fmt/format.h>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/pystr.h"

namespace hearth::chat::jinja {
namespace {

constexpr std::string_view kStringMethods[] = {
    "split", "rsplit", "strip", "lstrip", "rstrip", "startswith", "endswith", "replace", "upper", "lower",
    "title", "capitalize", "find", "rfind", "index", "count", "format", "join", "isdigit", "isalpha",
    "isalnum", "isspace", "isupper", "islower", "splitlines", "removeprefix", "removesuffix", "center",
    "ljust", "rjust", "zfill", "partition", "rpartition", "casefold", "swapcase", "isnumeric", "isdecimal",
    "istitle", "expandtabs"};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get", "copy",
                                             // mutating: refused by the sandbox
                                             "pop", "popitem", "update", "setdefault", "clear"};
constexpr std::string_view kListMethods[] = {"index", "count", "copy",
                                             // mutating: refused by the sandbox
                                             "append", "extend", "insert", "pop", "remove", "reverse", "sort",
                                             "clear"};
constexpr std::string_view kMutating[] = {"pop", "popitem", "update", "setdefault", "clear", "append",
                                          "extend", "insert", "remove", "reverse", "sort"};

template <size_t N>
bool contains(const std::string_view (&list)[N], std::string_view name) {
  for (auto m : list)
    if (m == name) return true;
  return false;
}

std::optional<std::string> opt_string(const CallArgs& args, size_t i, const char* keyword) {
  const Value* v = i < args.positional.size() ? &args.positional[i] : args.keyword_arg(keyword);
  if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
  if (!v->is_string()) runtime_fail(fmt::format("argument must be str or None, not {}", v->type_name()));
  return v->as_string();
}

int64_t opt_int(const CallArgs& args, size_t i, const char* keyword, int64_t fallback) {
  const Value* v = i < args.positional.size() ? &args.positional[i] : args.keyword_arg(keyword);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int()) runtime_fail(fmt::format("'{}' object cannot be interpreted as an integer", v->type_name()));
  return v->as_int();
}

const Value& arg(const CallArgs& args, size_t i, const char* method) {
  if (i >= args.positional.size()) runtime_fail(fmt::format("{}() missing required argument", method));
  return args.positional[i];
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string())
      runtime_fail(fmt::format("{} first arg must be str or a tuple of str, not {}", prefix ? "startswith" : "endswith",
                               a.type_name()));
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.kind() == Kind::Tuple || affix.kind() == Kind::List) {
    for (const auto& a : affix.items())
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

ValueList strings_to_values(std::vector<std::string> parts) {
  ValueList out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

// str.format with positional and named fields ({}, {0}, {name}); format specs
// are applied for the common fill/width cases only.
std::string python_format(const std::string& fmt_str, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    char c = fmt_str[i];
    if (c == '{' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    size_t end = fmt_str.find('}', i);
    if (end == std::string::npos) runtime_fail("Single '{' encountered in format string");
    std::string field = fmt_str.substr(i + 1, end - i - 1);
    std::string spec;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    const Value* v = nullptr;
    if (field.empty()) {
      if (auto_index >= args.positional.size()) runtime_fail("Replacement index out of range for positional args tuple");
      v = &args.positional[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
      size_t idx = std::stoul(field);
      if (idx >= args.positional.size()) runtime_fail("Replacement index out of range for positional args tuple");
      v = &args.positional[idx];
    } else {
      v = args.keyword_arg(field);
      if (!v) runtime_fail(fmt::format("'{}'", field));
    }
    std::string text = to_str(*v);
    if (!spec.empty() && std::isdigit(static_cast<unsigned char>(spec[0]))) {
      size_t width = std::stoul(spec);
      size_t len = pystr::length(text);
      if (len < width) text += std::string(width - len, ' ');
    }
    out += text;
    i = end;
  }
  return out;
}

}  // namespace

bool has_method(const Value& self, const std::string& name) {
  switch (self.kind()) {
    case Kind::String: return contains(kStringMethods, name);
    case Kind::Dict: return contains(kDictMethods, name);
    case Kind::List: return contains(kListMethods, name);
    case Kind::Tuple: return name == "index" || name == "count";
    default: return false;
  }
}

namespace {

Value call_str_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args);

// markupsafe.Markup's methods (markupsafe 3): the str methods it wraps
// return Markup, escaping only what they insert (replace's new text, the
// fill character); split and friends return lists of Markup; join, format
// and partition escape their arguments. The rest (find, startswith, is...)
// answer as str does.
Value call_markup_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args) {
  static constexpr std::string_view kWrapped[] = {
      "strip", "lstrip", "rstrip", "upper", "lower", "casefold", "title", "capitalize", "swapcase", "replace",
      "center", "ljust", "rjust", "zfill", "removeprefix", "removesuffix", "expandtabs"};
  Value plain(self.as_string());
  auto escape_strings = [](CallArgs& a) {
    for (auto& v : a.positional)
      if (v.is_string()) v = escape_value(v);
    for (auto& [k, v] : a.keyword)
      if (v.is_string()) v = escape_value(v);
  };
  auto markup_items = [](const Value& v) {
    ValueList out;
    for (const auto& item : v.items()) out.push_back(Value::markup(item.as_string()));
    return out;
  };
  if (contains(kWrapped, name)) {
    bool inserts = name == "replace" || name == "center" || name == "ljust" || name == "rjust";
    if (inserts && args.positional.size() > 1 && args.positional[1].is_string())
      args.positional[1] = escape_value(args.positional[1]);
    return Value::markup(call_str_method(in, plain, name, args).as_string());
  }
  if (name == "split" || name == "rsplit" || name == "splitlines")
    return Value::list(markup_items(call_str_method(in, plain, name, args)));
  if (name == "partition" || name == "rpartition") {
    escape_strings(args);
    return Value::tuple(markup_items(call_str_method(in, plain, name, args)));
  }
  if (name == "format") {
    escape_strings(args);
    for (auto& v : args.positional)
      if (!v.is_string() && !v.is_number() && !v.is_none()) v = escape_value(v);
    for (auto& [k, v] : args.keyword)
      if (!v.is_string() && !v.is_number() && !v.is_none()) v = escape_value(v);
    return Value::markup(call_str_method(in, plain, name, args).as_string());
  }
  if (name == "join") {
    ValueList escaped;
    for (const auto& item : iterate(arg(args, 0, "join"))) escaped.push_back(escape_value(item));
    CallArgs joined;
    joined.positional.push_back(Value::list(std::move(escaped)));
    return Value::markup(call_str_method(in, plain, name, joined).as_string());
  }
  return call_str_method(in, plain, name, args);
}

}  // namespace

Value call_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args) {
  if (self.is_markup() && contains(kStringMethods, name)) return call_markup_method(in, self, name, args);
  return call_str_method(in, self, name, args);
}

namespace {

Value call_str_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args) {
  if ((self.kind() == Kind::Dict || self.kind() == Kind::List) && contains(kMutating, name))
    runtime_fail(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, self.type_name()));
  if (self.kind() == Kind::Dict) {
    const Dict& d = self.as_dict();
    if (name == "items") {
      ValueList out;
      for (const auto& [k, v] : d.entries()) out.push_back(Value::tuple({k, v}));
      return Value::list(std::move(out));
    }
    if (name == "keys" || name == "values") {
      ValueList out;
      for (const auto& [k, v] : d.entries()) out.push_back(name == "keys" ? k : v);
      return Value::list(std::move(out));
    }
    if (name == "get") {
      const Value& key = arg(args, 0, "get");
      const Value* found = d.find_key(key);
      if (found) return *found;
      return args.positional.size() > 1 ? args.positional[1] : Value::none();
    }
    if (name == "copy") return self;
  }
  if (self.kind() == Kind::List || self.kind() == Kind::Tuple) {
    const ValueList& items = self.items();
    if (name == "copy") return self;
    if (name == "count") {
      int64_t n = 0;
      for (const auto& v : items) n += values_equal(v, arg(args, 0, "count")) ? 1 : 0;
      return Value(n);
    }
    if (name == "index") {
      for (size_t i = 0; i < items.size(); ++i)
        if (values_equal(items[i], arg(args, 0, "index"))) return Value(int64_t(i));
      runtime_fail(fmt::format("{} is not in list", to_repr(args.positional[0])));
    }
  }
  if (self.kind() != Kind::String) runtime_fail(fmt::format("'{}' object has no attribute '{}'", self.type_name(), name));

  const std::string& s = self.as_string();
  if (name == "split" || name == "rsplit") {
    auto sep = opt_string(args, 0, "sep");
    if (sep && sep->empty()) runtime_fail("empty separator");
    int64_t maxsplit = opt_int(args, 1, "maxsplit", -1);
    return Value::list(strings_to_values(name == "split" ? pystr::split(s, sep, maxsplit) : pystr::rsplit(s, sep, maxsplit)));
  }
  if (name == "strip") return Value(pystr::strip(s, opt_string(args, 0, "chars"), true, true));
  if (name == "lstrip") return Value(pystr::strip(s, opt_string(args, 0, "chars"), true, false));
  if (name == "rstrip") return Value(pystr::strip(s, opt_string(args, 0, "chars"), false, true));
  if (name == "startswith") return Value(affix_match(s, arg(args, 0, name.c_str()), true));
  if (name == "endswith") return Value(affix_match(s, arg(args, 0, name.c_str()), false));
  if (name == "replace") {
    const Value &old = arg(args, 0, "replace"), &rep = arg(args, 1, "replace");
    if (!old.is_string() || !rep.is_string()) runtime_fail("replace() arguments must be str");
    std::string out = pystr::replace(s, old.as_string(), rep.as_string(), opt_int(args, 2, "count", -1));
    in.check_size(out.size());
    return Value(std::move(out));
  }
  if (name == "upper") return Value(pystr::upper(s));
  if (name == "lower" || name == "casefold") return Value(pystr::lower(s));
  if (name == "title") return Value(pystr::title(s));
  if (name == "capitalize") return Value(pystr::capitalize(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "count") {
    const Value& needle = arg(args, 0, name.c_str());
    if (!needle.is_string()) runtime_fail(fmt::format("must be str, not {}", needle.type_name()));
    const std::string& n = needle.as_string();
    if (name == "count") {
      if (n.empty()) return Value(int64_t(pystr::length(s) + 1));
      int64_t c = 0;
      for (size_t p = s.find(n); p != std::string::npos; p = s.find(n, p + n.size())) ++c;
      return Value(c);
    }
    size_t p = name == "rfind" ? s.rfind(n) : s.find(n);
    if (p == std::string::npos) {
      if (name == "index") runtime_fail("substring not found");
      return Value(int64_t(-1));
    }
    return Value(int64_t(pystr::length(std::string_view(s).substr(0, p))));
  }
  if (name == "format") return Value(python_format(s, args));
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const auto& item : iterate(arg(args, 0, "join"))) {
      if (!item.is_string()) runtime_fail(fmt::format("sequence item: expected str instance, {} found", item.type_name()));
      if (!first) out += s;
      first = false;
      out += item.as_string();
    }
    return Value(std::move(out));
  }
  auto all_of = [&](auto pred) {
    std::u32string cps = pystr::decode(s);
    if (cps.empty()) return false;
    for (char32_t c : cps)
      if (!pred(c)) return false;
    return true;
  };
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal")
    return Value(all_of([](char32_t c) { return c >= '0' && c <= '9'; }));
  if (name == "isalpha")
    return Value(all_of([](char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }));
  if (name == "isalnum")
    return Value(all_of([](char32_t c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
    }));
  if (name == "isspace") return Value(all_of([](char32_t c) { return pystr::is_space(c); }));
  if (name == "isupper") return Value(pystr::upper(s) == s && pystr::lower(s) != s);
  if (name == "islower") return Value(pystr::lower(s) == s && pystr::upper(s) != s);
  if (name == "istitle") return Value(pystr::title(s) == s && pystr::lower(s) != s);
  if (name == "swapcase") {
    std::string out = s;
    for (char& c : out) c = (c >= 'a' && c <= 'z') ? char(c - 32) : (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
    return Value(std::move(out));
  }
  if (name == "splitlines") return Value::list(strings_to_values(pystr::splitlines(s)));
  if (name == "removeprefix" || name == "removesuffix") {
    const Value& a = arg(args, 0, name.c_str());
    if (!a.is_string()) runtime_fail("argument must be str");
    const std::string& x = a.as_string();
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
    if (name == "removesuffix" && !x.empty() && x.size() <= s.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
      return Value(s.substr(0, s.size() - x.size()));
    return self;
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    int64_t width = opt_int(args, 0, "width", 0);
    std::string fill = name == "zfill" ? "0" : opt_string(args, 1, "fillchar").value_or(" ");
    int64_t len = int64_t(pystr::length(s));
    if (width <= len) return self;
    int64_t pad = width - len;
    auto rep = [&](int64_t n) {
      std::string r;
      for (int64_t i = 0; i < n; ++i) r += fill;
      return r;
    };
    if (name == "ljust") return Value(s + rep(pad));
    if (name == "rjust") return Value(rep(pad) + s);
    if (name == "zfill") {
      if (!s.empty() && (s[0] == '-' || s[0] == '+')) return Value(s.substr(0, 1) + rep(pad) + s.substr(1));
      return Value(rep(pad) + s);
    }
    int64_t left = pad / 2 + (pad & width & 1);
    return Value(rep(left) + s + rep(pad - left));
  }
  if (name == "partition" || name == "rpartition") {
    const Value& a = arg(args, 0, name.c_str());
    if (!a.is_string() || a.as_string().empty()) runtime_fail("empty separator");
    size_t p = name == "partition" ? s.find(a.as_string()) : s.rfind(a.as_string());
    if (p == std::string::npos)
      return name == "partition" ? Value::tuple({self, Value(""), Value("")}) : Value::tuple({Value(""), Value(""), self});
    return Value::tuple({Value(s.substr(0, p)), a, Value(s.substr(p + a.as_string().size()))});
  }
  if (name == "expandtabs") return Value(pystr::replace(s, "\t", "        ", -1));
  runtime_fail(fmt::format("'str' object has no attribute '{}'", name));
}

}  // namespace

std::string percent_format(const std::string& format, const Value& args) {
  ValueList values = args.kind() == Kind::Tuple ? args.items() : ValueList{args};
  bool mapping = args.is_dict();
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (++i >= format.size()) runtime_fail("incomplete format");
    const Value* v = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos || !mapping) runtime_fail("format requires a mapping");
      v = args.as_dict().find(format.substr(i + 1, close - i - 1));
      if (!v) runtime_fail(fmt::format("'{}'", format.substr(i + 1, close - i - 1)));
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() && std::string_view("-+ 0#").find(format[i]) != std::string_view::npos) flags += format[i++];
    std::string width, precision;
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) width += format[i++];
    if (i < format.size() && format[i] == '.') {
      ++i;
      precision = "0";
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) precision += format[i++];
    }
    if (i >= format.size()) runtime_fail("incomplete format");
    char conv = format[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (!v) {
      if (mapping) {
        v = &args;
      } else {
        if (next >= values.size()) runtime_fail("not enough arguments for format string");
        v = &values[next++];
      }
    }
    std::string text;
    switch (conv) {
      case 's': text = to_str(*v); break;
      case 'r':
      case 'a': text = to_repr(*v); break;
      case 'd':
      case 'i':
      case 'u':
        if (!v->is_number()) runtime_fail(fmt::format("%{} format: a real number is required, not {}", conv, v->type_name()));
        text = std::to_string(v->kind() == Kind::Float ? int64_t(std::trunc(v->as_float())) : v->as_int());
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'g': {
        if (!v->is_number()) runtime_fail(fmt::format("must be real number, not {}", v->type_name()));
        int prec = precision.empty() ? 6 : std::stoi(precision);
        text = conv == 'e' ? fmt::format("{:.{}e}", v->as_float(), prec)
               : conv == 'g' ? fmt::format("{:.{}g}", v->as_float(), prec)
                             : fmt::format("{:.{}f}", v->as_float(), prec);
        break;
      }
      case 'x':
      case 'X':
      case 'o':
        if (!v->is_int()) runtime_fail("an integer is required");
        text = conv == 'x' ? fmt::format("{:x}", v->as_int()) : conv == 'X' ? fmt::format("{:X}", v->as_int()) : fmt::format("{:o}", v->as_int());
        break;
      case 'c': text = v->is_string() ? v->as_string() : std::string(1, char(v->as_int())); break;
      default: runtime_fail(fmt::format("unsupported format character '{}'", conv));
    }
    if ((conv == 's' || conv == 'r') && !precision.empty()) {
      std::u32string cps = pystr::decode(text);
      size_t p = std::stoul(precision);
      if (cps.size() > p) text = pystr::encode(cps.substr(0, p));
    }
    if (!width.empty()) {
      size_t w = std::stoul(width), len = pystr::length(text);
      if (len < w) {
        bool left = flags.find('-') != std::string::npos;
        char pad = (flags.find('0') != std::string::npos && !left && conv != 's') ? '0' : ' ';
        text = left ? text + std::string(w - len, ' ') : std::string(w - len, pad) + text;
      }
    }
    out += text;
  }
  // Python only complains about unused arguments for a tuple or a single
  // value without __getitem__ (lists, dicts and ranges pass silently).
  bool has_getitem = args.kind() == Kind::List || args.kind() == Kind::Range || args.is_dict();
  if (!mapping && !has_getitem && next < values.size())
    runtime_fail("not all arguments converted during string formatting");
  return out;
}

std::string format_time(const DateTime& t, std::string_view format) {
  static constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                            "July",    "August",   "September", "October", "November", "December"};
  static constexpr const char* kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  // Day of the week (0 = Monday) and of the year, from the civil date.
  auto days_from_civil = [](int y, int m, int d) {
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return int64_t(era) * 146097 + doe - 719468;
  };
  int64_t days = days_from_civil(t.year, t.month, t.day);
  int weekday = int(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday
  int yday = int(days - days_from_civil(t.year, 1, 1)) + 1;
  std::string month = kMonths[std::clamp(t.month, 1, 12) - 1];
  std::string day = kDays[weekday];
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out.push_back(format[i]);
      continue;
    }
    char c = format[++i];
    bool no_pad = false;
    if (c == '-' && i + 1 < format.size()) {  // glibc extension: no padding
      no_pad = true;
      c = format[++i];
    }
    auto num = [&](int v, int width) {
      out += no_pad ? std::to_string(v) : fmt::format("{:0{}d}", v, width);
    };
    int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
    switch (c) {
      case 'Y': out += std::to_string(t.year); break;
      case 'y': num(t.year % 100, 2); break;
      case 'm': num(t.month, 2); break;
      case 'd': num(t.day, 2); break;
      case 'e': out += fmt::format("{:2d}", t.day); break;
      case 'H': num(t.hour, 2); break;
      case 'I': num(hour12, 2); break;
      case 'M': num(t.minute, 2); break;
      case 'S': num(t.second, 2); break;
      case 'p': out += t.hour < 12 ? "AM" : "PM"; break;
      case 'B': out += month; break;
      case 'b':
      case 'h': out += month.substr(0, 3); break;
      case 'A': out += day; break;
      case 'a': out += day.substr(0, 3); break;
      case 'j': num(yday, 3); break;
      case 'w': out += std::to_string((weekday + 1) % 7); break;
      case 'u': out += std::to_string(weekday + 1); break;
      case 'F': out += fmt::format("{}-{:02d}-{:02d}", t.year, t.month, t.day); break;
      case 'T': out += fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.minute, t.second); break;
      case 'D': out += fmt::format("{:02d}/{:02d}/{:02d}", t.month, t.day, t.year % 100); break;
      case 'c':
        out += fmt::format("{} {} {:2d} {:02d}:{:02d}:{:02d} {}", day.substr(0, 3), month.substr(0, 3), t.day, t.hour,
                           t.minute, t.second, t.year);
        break;
      case 'x': out += fmt::format("{:02d}/{:02d}/{:02d}", t.month, t.day, t.year % 100); break;
      case 'X': out += fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.minute, t.second); break;
      case '%': out.push_back('%'); break;
      default:
        out.push_back('%');
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace hearth::chat::jinja

#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "chat/jinja/error.h"
#include "chat/jinja/pystr.h"
#include "core/error.h"

namespace hearth::chat::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k.is_string() && k.as_string() == key) return &v;
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (auto& [k, v] : entries_)
    if (k.is_string() && k.as_string() == key) return &v;
  return nullptr;
}

const Value* Dict::find_key(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries_)
    if (values_equal(k, key)) return &v;
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  if (Value* existing = find(std::string_view(key))) {
    *existing = std::move(value);
    return;
  }
  entries_.emplace_back(Value(std::move(key)), std::move(value));
}

void Dict::set(const char* key, Value value) { set(std::string(key), std::move(value)); }

void Dict::set(Value key, Value value) {
  if (key.is_string()) return set(key.as_string(), std::move(value));
  for (auto& [k, v] : entries_)
    if (values_equal(k, key)) {
      v = std::move(value);
      return;
    }
  entries_.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::keyword_arg(std::string_view name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

int64_t RangeSpec::size() const {
  if (step > 0 && stop > start) return (stop - start + step - 1) / step;
  if (step < 0 && stop < start) return (start - stop - step - 1) / (-step);
  return 0;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.string_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value::Value(bool b) : kind_(Kind::Bool), bool_(b), int_(b ? 1 : 0) {}
Value::Value(int64_t i) : kind_(Kind::Int), int_(i) {}
Value::Value(double f) : kind_(Kind::Float), float_(f) {}
Value::Value(std::string s) : kind_(Kind::String), string_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Value escape_value(const Value& v) {
  if (v.is_markup()) return v;
  return Value::markup(html_escape(to_str(v)));
}

Value Value::list(ValueList items) {
  Value v;
  v.kind_ = Kind::List;
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::tuple(ValueList items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

Value Value::generator(ValueList items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Generator;
  return v;
}

Value Value::range(RangeSpec spec) {
  Value v;
  v.kind_ = Kind::Range;
  v.range_ = spec;
  return v;
}

Value Value::dict(Dict d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::namespace_object(Dict d) {
  Value v = dict(std::move(d));
  v.kind_ = Kind::Namespace;
  return v;
}

Value Value::callable(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.callable_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

namespace {

template <typename Json>
Value value_from_json(const Json& j, int depth = 0) {
  if (depth > 512) hearth::fail("JSON input is nested more than 512 levels deep");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(int64_t(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(value_from_json(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), value_from_json(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: return Value::none();
  }
}

}  // namespace

Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return bool_;
    case Kind::Int: return int_ != 0;
    case Kind::Float: return float_ != 0.0;
    case Kind::String: return !string_->empty();
    case Kind::List:
    case Kind::Tuple: return !list_->empty();
    case Kind::Range: return range_.size() > 0;
    case Kind::Dict: return dict_->size() > 0;
    case Kind::Generator:
    case Kind::Namespace:
    case Kind::Callable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return markup_ ? "Markup" : "str";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Generator: return "generator";
    case Kind::Range: return "range";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
  }
  return "object";
}

std::string repr_float(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  if (f == 0) return std::signbit(f) ? "-0.0" : "0.0";
  // Shortest round-trip digits, laid out the way Python's float repr does:
  // positional for exponents in [-4, 16), scientific otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits.push_back(c);
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
    } else if (size_t(exponent + 1) >= digits.size()) {
      out += digits + std::string(size_t(exponent + 1) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, size_t(exponent + 1)) + "." + digits.substr(size_t(exponent + 1));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

std::string repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : pystr::decode(s)) {
    if (c == char32_t(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!pystr::is_printable(c)) {
      if (c < 0x100)
        out += fmt::format("\\x{:02x}", uint32_t(c));
      else if (c < 0x10000)
        out += fmt::format("\\u{:04x}", uint32_t(c));
      else
        out += fmt::format("\\U{:08x}", uint32_t(c));
    } else {
      pystr::append_utf8(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

// Python stops runaway recursion with RecursionError; so do we.
constexpr int kMaxValueDepth = 512;

void append_str(std::string& out, const Value& v, bool repr, int depth = 0);

void append_sequence(std::string& out, const ValueList& items, const char* open, const char* close,
                     bool one_tuple, int depth) {
  out += open;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    append_str(out, items[i], true, depth + 1);
  }
  if (one_tuple && items.size() == 1) out += ",";
  out += close;
}

void append_str(std::string& out, const Value& v, bool repr, int depth) {
  if (depth > kMaxValueDepth) runtime_fail("maximum recursion depth exceeded while getting the repr of an object");
  switch (v.kind()) {
    case Kind::Undefined: break;
    case Kind::None: out += "None"; break;
    case Kind::Bool: out += v.as_bool() ? "True" : "False"; break;
    case Kind::Int: out += std::to_string(v.as_int()); break;
    case Kind::Float: out += repr_float(v.as_float()); break;
    case Kind::String:
      if (!repr)
        out += v.as_string();
      else if (v.is_markup())
        out += "Markup(" + repr_string(v.as_string()) + ")";
      else
        out += repr_string(v.as_string());
      break;
    case Kind::List: append_sequence(out, v.items(), "[", "]", false, depth); break;
    case Kind::Tuple: append_sequence(out, v.items(), "(", ")", true, depth); break;
    case Kind::Generator: out += "<generator object at 0x0>"; break;
    case Kind::Range: {
      const auto& r = v.range_spec();
      out += r.step == 1 ? fmt::format("range({}, {})", r.start, r.stop)
                         : fmt::format("range({}, {}, {})", r.start, r.stop, r.step);
      break;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      if (v.kind() == Kind::Namespace) out += "<Namespace ";
      out += "{";
      bool first = true;
      for (const auto& [k, item] : v.as_dict().entries()) {
        if (!first) out += ", ";
        first = false;
        append_str(out, k, true, depth + 1);
        out += ": ";
        append_str(out, item, true, depth + 1);
      }
      out += "}";
      if (v.kind() == Kind::Namespace) out += ">";
      break;
    }
    case Kind::Callable: out += "<function " + v.as_callable().name + ">"; break;
  }
}

}  // namespace

std::string to_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v, false);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  append_str(out, v, true);
  return out;
}

namespace {

bool equal_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) runtime_fail("maximum recursion depth exceeded in comparison");
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.as_string() == b.as_string();
    case Kind::List:
    case Kind::Tuple: {
      const auto &x = a.items(), &y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equal_at(x[i], y[i], depth + 1)) return false;
      return true;
    }
    case Kind::Dict: {
      const auto &x = a.as_dict(), &y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find_key(k);
        if (!other || !equal_at(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case Kind::Range: {
      const auto &x = a.range_spec(), &y = b.range_spec();
      return x.start == y.start && x.stop == y.stop && x.step == y.step;
    }
    default: return &a == &b;
  }
}

bool less_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) runtime_fail("maximum recursion depth exceeded in comparison");
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if ((a.kind() == Kind::List && b.kind() == Kind::List) || (a.kind() == Kind::Tuple && b.kind() == Kind::Tuple)) {
    const auto &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (less_at(x[i], y[i], depth + 1)) return true;
      if (less_at(y[i], x[i], depth + 1)) return false;
    }
    return x.size() < y.size();
  }
  runtime_fail(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
}

}  // namespace

bool values_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }
bool values_less(const Value& a, const Value& b) { return less_at(a, b, 0); }

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  auto escape_cp = [&](char32_t c) {
    switch (c) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '\n': out += "\\n"; return;
      case '\r': out += "\\r"; return;
      case '\t': out += "\\t"; return;
      case '\b': out += "\\b"; return;
      case '\f': out += "\\f"; return;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", uint32_t(0xD800 | (v >> 10)), uint32_t(0xDC00 | (v & 0x3FF)));
      } else {
        out += fmt::format("\\u{:04x}", uint32_t(c));
      }
      return;
    }
    pystr::append_utf8(out, c);
  };
  if (!ensure_ascii) {
    // Fast path: only ASCII specials need escaping; UTF-8 passes through.
    for (char ch : s) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == '"' || c == '\\')
        escape_cp(c);
      else
        out.push_back(ch);
    }
  } else {
    for (char32_t c : pystr::decode(s)) escape_cp(c);
  }
  out.push_back('"');
}

void json_value(std::string& out, const Value& v, const JsonDumpOptions& o, int depth) {
  if (depth > 512) runtime_fail("maximum recursion depth exceeded while encoding a JSON object");
  auto newline = [&](int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += o.indent;
  };
  switch (v.kind()) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.as_int()); return;
    case Kind::Float: {
      double f = v.as_float();
      if (std::isnan(f))
        out += "NaN";
      else if (std::isinf(f))
        out += f < 0 ? "-Infinity" : "Infinity";
      else
        out += repr_float(f);
      return;
    }
    case Kind::String: json_string(out, v.as_string(), o.ensure_ascii); return;
    case Kind::List:
    case Kind::Tuple: {
      const auto& items = v.items();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        if (o.indented) newline(depth + 1);
        json_value(out, items[i], o, depth + 1);
      }
      if (o.indented) newline(depth);
      out.push_back(']');
      return;
    }
    case Kind::Dict: {
      auto entries = v.as_dict().entries();
      if (entries.empty()) {
        out += "{}";
        return;
      }
      auto key_text = [](const Value& k) -> std::string {
        switch (k.kind()) {
          case Kind::String: return k.as_string();
          case Kind::Int: return std::to_string(k.as_int());
          case Kind::Bool: return k.as_bool() ? "true" : "false";
          case Kind::None: return "null";
          case Kind::Float: return repr_float(k.as_float());
          default:
            runtime_fail(fmt::format("keys must be str, int, float, bool or None, not {}", k.type_name()));
        }
      };
      if (o.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [&](const auto& a, const auto& b) { return key_text(a.first) < key_text(b.first); });
      out.push_back('{');
      bool first = true;
      for (const auto& [k, item] : entries) {
        if (!first) out += o.item_separator;
        first = false;
        if (o.indented) newline(depth + 1);
        json_string(out, key_text(k), o.ensure_ascii);
        out += o.key_separator;
        json_value(out, item, o, depth + 1);
      }
      if (o.indented) newline(depth);
      out.push_back('}');
      return;
    }
    default: runtime_fail(fmt::format("Object of type {} is not JSON serializable", v.type_name()));
  }
}

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  std::string out;
  json_value(out, v, options, 0);
  return out;
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return {};
    case Kind::List:
    case Kind::Tuple:
    case Kind::Generator: return v.items();
    case Kind::Range: {
      ValueList out;
      const auto& r = v.range_spec();
      int64_t n = r.size();
      if (n > 10'000'000) runtime_fail("range too large to materialize");
      out.reserve(size_t(n));
      for (int64_t i = 0; i < n; ++i) out.emplace_back(r.at(i));
      return out;
    }
    case Kind::Dict: {
      ValueList out;
      for (const auto& [k, item] : v.as_dict().entries()) out.push_back(k);
      return out;
    }
    case Kind::String: {
      ValueList out;
      std::string ch;
      for (char32_t c : pystr::decode(v.as_string())) {
        ch.clear();
        pystr::append_utf8(ch, c);
        out.emplace_back(ch);
      }
      return out;
    }
    default: runtime_fail(fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

}  // namespace hearth::chat::jinja

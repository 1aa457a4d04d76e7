// Jinja2's built-in filters and tests, with transformers' tojson override.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/pystr.h"

namespace hearth::chat::jinja {
namespace {

// Argument `i` (or keyword `name`), or null.
const Value* get_arg(const CallArgs& args, size_t i, const char* name) {
  if (i < args.positional.size()) return &args.positional[i];
  return args.keyword_arg(name);
}

bool bool_arg(const CallArgs& args, size_t i, const char* name, bool fallback) {
  const Value* v = get_arg(args, i, name);
  return v ? v->truthy() : fallback;
}

// Jinja's make_attrgetter: "a.b.0" looks up each part with getitem.
Value lookup_path(Interpreter& in, const Value& item, const std::string& path) {
  Value cur = item;
  for (const auto& part : pystr::split(path, std::string("."), -1)) {
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = in.get_item(cur, numeric ? Value(int64_t(std::stoll(part))) : Value(part));
  }
  return cur;
}

// Sort key comparison, case-insensitive for strings unless asked otherwise.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(pystr::lower(v.as_string()));
  return v;
}

ValueList sorted_items(Interpreter& in, ValueList items, bool reverse, bool case_sensitive, const Value* attribute) {
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (auto& item : items) {
    Value key = attribute && !attribute->is_none() ? lookup_path(in, item, to_str(*attribute)) : item;
    keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? values_less(b.first, a.first) : values_less(a.first, b.first);
  });
  ValueList out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return out;
}

ValueList select_items(Interpreter& in, const Value& seq, CallArgs& args, bool by_attribute, bool keep_when) {
  if (!seq.truthy()) return {};  // jinja2 checks `if seq:` before iterating
  size_t first = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) runtime_fail("selectattr() missing attribute name");
    attribute = to_str(args.positional[0]);
    first = 1;
  }
  std::string test_name;
  CallArgs test_args;
  if (args.positional.size() > first) {
    test_name = to_str(args.positional[first]);
    test_args.positional.assign(args.positional.begin() + long(first) + 1, args.positional.end());
  }
  ValueList out;
  for (const auto& item : iterate(seq)) {
    in.step();
    Value probe = by_attribute ? lookup_path(in, item, attribute) : item;
    bool ok = test_name.empty() ? probe.truthy() : in.apply_test(test_name, probe, test_args);
    if (ok == keep_when) out.push_back(item);
  }
  return out;
}

std::string indent_text(std::string s, const Value* width_arg, bool first, bool blank) {
  std::string indention = "    ";
  if (width_arg) indention = width_arg->is_string() ? width_arg->as_string() : std::string(size_t(std::max<int64_t>(0, width_arg->as_int())), ' ');
  s += "\n";  // as jinja2 does, so splitlines keeps a trailing empty line
  std::vector<std::string> lines = pystr::splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) {
        rv += '\n';
        rv += indention;
      }
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
    }
  }
  if (first) rv = indention + rv;
  return rv;
}

// A str result of the same kind as `like`: Markup in, Markup out.
Value like(const Value& like, std::string s) {
  return like.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s));
}

Value to_int(const Value& v, const Value& fallback, int base) {
  if (v.is_int()) return Value(v.as_int());
  if (v.kind() == Kind::Float) return Value(int64_t(std::trunc(v.as_float())));
  if (v.is_string()) {
    std::string s = pystr::strip(v.as_string(), std::nullopt, true, true);
    std::string digits;
    for (char c : s)
      if (c != '_') digits.push_back(c);
    char* end = nullptr;
    long long n = std::strtoll(digits.c_str(), &end, base);
    if (!digits.empty() && end && *end == '\0') return Value(int64_t(n));
    double f = std::strtod(digits.c_str(), &end);
    if (!digits.empty() && end && *end == '\0') return Value(int64_t(std::trunc(f)));
  }
  return fallback;
}

}  // namespace

Value call_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  in.step();
  if (name == "tojson") {
    JsonDumpOptions o;
    o.ensure_ascii = bool_arg(args, 0, "ensure_ascii", false);
    const Value* indent = get_arg(args, 1, "indent");
    if (indent && !indent->is_none()) {
      o.indented = true;
      o.indent = indent->is_string() ? indent->as_string() : std::string(size_t(std::max<int64_t>(0, indent->as_int())), ' ');
      o.item_separator.assign(1, ',');  // (not = ",": GCC 12 -Wrestrict false positive)
    }
    const Value* separators = get_arg(args, 2, "separators");
    if (separators && !separators->is_none()) {
      ValueList parts = iterate(*separators);
      if (parts.size() != 2) runtime_fail("separators must be a (item_separator, key_separator) pair");
      o.item_separator = to_str(parts[0]);
      o.key_separator = to_str(parts[1]);
    }
    o.sort_keys = bool_arg(args, 3, "sort_keys", false);
    std::string out = json_dumps(v, o);
    in.check_size(out.size());
    return Value(std::move(out));
  }
  if (name == "length" || name == "count") {
    switch (v.kind()) {
      case Kind::Undefined: return Value(int64_t(0));
      case Kind::String: return Value(int64_t(pystr::length(v.as_string())));
      case Kind::List:
      case Kind::Tuple: return Value(int64_t(v.items().size()));
      case Kind::Dict:
      case Kind::Namespace: return Value(int64_t(v.as_dict().size()));
      case Kind::Range: return Value(v.range_spec().size());
      default: runtime_fail(fmt::format("object of type '{}' has no len()", v.type_name()));
    }
  }
  if (name == "string") return v.is_string() ? v : Value(to_str(v));
  if (name == "trim") {
    const Value* chars = get_arg(args, 0, "chars");
    std::optional<std::string> set;
    if (chars && !chars->is_none()) set = to_str(*chars);
    return like(v, pystr::strip(to_str(v), set, true, true));
  }
  if (name == "default" || name == "d") {
    const Value* fallback = get_arg(args, 0, "default_value");
    bool boolean = bool_arg(args, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return fallback ? *fallback : Value("");
    return v;
  }
  if (name == "join") {
    const Value* sep = get_arg(args, 0, "d");
    const Value* attribute = get_arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
      if (!first && sep) out += to_str(*sep);
      first = false;
      out += to_str(attribute && !attribute->is_none() ? lookup_path(in, item, to_str(*attribute)) : item);
      in.check_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::generator({});
    if (!v.is_dict()) runtime_fail("Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& [k, item] : v.as_dict().entries()) out.push_back(Value::tuple({k, item}));
    return Value::generator(std::move(out));
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "safe") return v.is_markup() ? v : Value::markup(to_str(v));
  if (name == "e" || name == "escape") return escape_value(v);
  if (name == "forceescape") return Value::markup(html_escape(to_str(v)));
  if (name == "selectattr" || name == "rejectattr")
    return Value::generator(select_items(in, v, args, true, name == "selectattr"));
  if (name == "select" || name == "reject") return Value::generator(select_items(in, v, args, false, name == "select"));
  if (name == "map") {
    ValueList out;
    if (!v.truthy()) return Value::generator({});  // jinja2 checks `if value:` first
    const Value* attribute = args.keyword_arg("attribute");
    if (attribute) {
      const Value* fallback = args.keyword_arg("default");
      for (const auto& item : iterate(v)) {
        Value r = lookup_path(in, item, to_str(*attribute));
        out.push_back(r.is_undefined() && fallback ? *fallback : r);
      }
    } else {
      if (args.positional.empty()) return Value::generator(iterate(v));
      std::string filter = to_str(args.positional[0]);
      CallArgs rest;
      rest.positional.assign(args.positional.begin() + 1, args.positional.end());
      rest.keyword = args.keyword;
      for (const auto& item : iterate(v)) {
        CallArgs copy = rest;
        out.push_back(call_filter(in, filter, item, copy));
      }
    }
    return Value::generator(std::move(out));
  }
  // These call the str method on soft_str(value): Markup stays Markup.
  if (name == "upper") return like(v, pystr::upper(to_str(v)));
  if (name == "lower") return like(v, pystr::lower(to_str(v)));
  if (name == "capitalize") return like(v, pystr::capitalize(to_str(v)));
  if (name == "title") {
    // jinja2's title: split at runs of '-', whitespace, '(', '{', '[', '<';
    // each piece gets its first character upper-cased and the rest lowered.
    std::u32string cps = pystr::decode(to_str(v));
    auto is_split = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || pystr::is_space(c); };
    std::string out;
    size_t i = 0;
    while (i < cps.size()) {
      size_t j = i;
      bool separators = is_split(cps[i]);
      while (j < cps.size() && is_split(cps[j]) == separators) ++j;
      std::string piece = pystr::encode(std::u32string_view(cps).substr(i, j - i));
      if (separators || piece.empty()) {
        out += piece;
      } else {
        std::string first = pystr::encode(std::u32string_view(cps).substr(i, 1));
        out += pystr::upper(first) + pystr::lower(piece.substr(first.size()));
      }
      i = j;
    }
    return Value(std::move(out));
  }
  if (name == "replace") {
    const Value* old = get_arg(args, 0, "old");
    const Value* rep = get_arg(args, 1, "new");
    if (!old || !rep) runtime_fail("replace() needs old and new strings");
    const Value* count = get_arg(args, 2, "count");
    std::string out = pystr::replace(to_str(v), to_str(*old), to_str(*rep), count && !count->is_none() ? count->as_int() : -1);
    in.check_size(out.size());
    return Value(std::move(out));
  }
  if (name == "indent") {
    // jinja2 appends "\n" to the value itself: only strings work.
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_string()) runtime_fail(fmt::format("unsupported operand type(s) for +=: '{}' and 'str'", v.type_name()));
  }
  if (name == "indent")
    return like(v, indent_text(to_str(v), get_arg(args, 0, "width"), bool_arg(args, 1, "first", false), bool_arg(args, 2, "blank", false)));
  if (name == "int") {
    const Value* fallback = get_arg(args, 0, "default");
    const Value* base = get_arg(args, 1, "base");
    return to_int(v, fallback ? *fallback : Value(int64_t(0)), base ? int(base->as_int()) : 10);
  }
  if (name == "float") {
    const Value* fallback = get_arg(args, 0, "default");
    if (v.is_number()) return Value(v.as_float());
    if (v.is_string()) {
      std::string s = pystr::strip(v.as_string(), std::nullopt, true, true);
      char* end = nullptr;
      double f = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == '\0') return Value(f);
    }
    return fallback ? *fallback : Value(0.0);
  }
  if (name == "abs") {
    if (v.kind() == Kind::Float) return Value(std::fabs(v.as_float()));
    if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    runtime_fail(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
  }
  if (name == "round") {
    if (!v.is_number()) runtime_fail(fmt::format("type {} doesn't define __round__ method", v.type_name()));
    const Value* precision = get_arg(args, 0, "precision");
    const Value* method = get_arg(args, 1, "method");
    int p = precision ? int(precision->as_int()) : 0;
    double scale = std::pow(10.0, p), x = v.as_float() * scale;
    std::string m = method ? to_str(*method) : "common";
    double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::round(x);
    return Value(r / scale);
  }
  if (name == "first") {
    ValueList items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  }
  if (name == "last") {
    ValueList items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string cps = pystr::decode(v.as_string());
      std::reverse(cps.begin(), cps.end());
      return like(v, pystr::encode(cps));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::generator(std::move(items));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) runtime_fail("You can only sort by either \"key\" or \"value\"");
    bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const Value* by = get_arg(args, 1, "by");
    bool by_value = by && to_str(*by) == "value";
    bool reverse = bool_arg(args, 2, "reverse", false);
    std::vector<Dict::Entry> entries = v.as_dict().entries();
    std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
      Value ka = sort_key(by_value ? a.second : a.first, case_sensitive);
      Value kb = sort_key(by_value ? b.second : b.first, case_sensitive);
      return reverse ? values_less(kb, ka) : values_less(ka, kb);
    });
    ValueList out;
    for (auto& [k, item] : entries) out.push_back(Value::tuple({k, item}));
    return Value::list(std::move(out));
  }
  if (name == "sort")
    return Value::list(sorted_items(in, iterate(v), bool_arg(args, 0, "reverse", false),
                                    bool_arg(args, 1, "case_sensitive", false), get_arg(args, 2, "attribute")));
  if (name == "unique") {
    bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const Value* attribute = get_arg(args, 1, "attribute");
    ValueList out, seen;
    for (const auto& item : iterate(v)) {
      Value key = sort_key(attribute && !attribute->is_none() ? lookup_path(in, item, to_str(*attribute)) : item, case_sensitive);
      bool dup = std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); });
      if (!dup) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "min" || name == "max") {
    ValueList items = sorted_items(in, iterate(v), false, bool_arg(args, 0, "case_sensitive", false), get_arg(args, 1, "attribute"));
    if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
    return name == "min" ? items.front() : items.back();
  }
  if (name == "sum") {
    const Value* attribute = get_arg(args, 0, "attribute");
    const Value* start = get_arg(args, 1, "start");
    Value total = start ? *start : Value(int64_t(0));
    for (const auto& item : iterate(v)) {
      Value x = attribute && !attribute->is_none() ? lookup_path(in, item, to_str(*attribute)) : item;
      if (!x.is_number() || !total.is_number()) runtime_fail("unsupported operand type(s) for +");
      total = (x.kind() == Kind::Float || total.kind() == Kind::Float) ? Value(total.as_float() + x.as_float())
                                                                          : Value(total.as_int() + x.as_int());
    }
    return total;
  }
  if (name == "format") {
    // soft_str(value) % args: Markup's % escapes the arguments.
    if (!args.positional.empty() && !args.keyword.empty())
      runtime_fail("can't handle positional and keyword arguments at the same time");
    Value format_args;
    if (!args.keyword.empty()) {
      Dict d;
      for (const auto& [k, item] : args.keyword) d.set(k, item);
      format_args = Value::dict(std::move(d));
    } else {
      format_args = Value::tuple(args.positional);
    }
    Value format_string = v.is_string() ? v : Value(to_str(v));
    return in.eval_binary("%", format_string, format_args);
  }
  if (name == "center") {
    const Value* width = get_arg(args, 0, "width");
    CallArgs margs;
    margs.positional.push_back(width ? *width : Value(int64_t(80)));
    return call_method(in, v.is_string() ? v : Value(to_str(v)), "center", margs);
  }
  if (name == "wordcount") {
    // Runs of word characters (\w+).
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : pystr::decode(to_str(v))) {
      bool word = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : pystr::is_printable(c) && !pystr::is_space(c));
      if (word && !in_word) ++words;
      in_word = word;
    }
    return Value(words);
  }
  if (name == "attr") {
    const Value* attribute = get_arg(args, 0, "name");
    if (!attribute) runtime_fail("attr() needs a name");
    return in.get_attr(v, to_str(*attribute));
  }
  if (name == "pprint") return Value(to_repr(v));
  if (name == "batch") {
    const Value* size = get_arg(args, 0, "linecount");
    int64_t n = size ? size->as_int() : 1;
    if (n <= 0) runtime_fail("batch size must be positive");
    const Value* fill = get_arg(args, 1, "fill_with");
    ValueList out, cur;
    for (const auto& item : iterate(v)) {
      cur.push_back(item);
      if (int64_t(cur.size()) == n) {
        out.push_back(Value::list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (fill && !fill->is_none())
        while (int64_t(cur.size()) < n) cur.push_back(*fill);
      out.push_back(Value::list(std::move(cur)));
    }
    return Value::generator(std::move(out));
  }
  runtime_fail(fmt::format("No filter named '{}' found.", name));
}

bool call_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  auto operand = [&]() -> const Value& {
    if (args.positional.empty()) runtime_fail(fmt::format("test '{}' needs an argument", name));
    return args.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.kind() == Kind::Int;
  if (name == "float") return v.kind() == Kind::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable")
    return v.is_undefined() || v.is_string() || v.is_sequence_like() || v.is_dict() || v.kind() == Kind::Range;
  if (name == "sequence") return v.is_string() || v.kind() == Kind::List || v.kind() == Kind::Tuple || v.is_dict() || v.kind() == Kind::Range;
  if (name == "callable") return v.is_callable() || v.is_undefined();  // Undefined defines __call__
  if (name == "sameas") {
    const Value& o = operand();
    if (v.kind() != o.kind()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool() || v.kind() == Kind::Int || v.is_string()) return values_equal(v, o);
    return false;
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, operand());
  if (name == "ne" || name == "!=") return !values_equal(v, operand());
  if (name == "lt" || name == "lessthan" || name == "<") return values_less(v, operand());
  if (name == "gt" || name == "greaterthan" || name == ">") return values_less(operand(), v);
  if (name == "le" || name == "<=") return !values_less(operand(), v);
  if (name == "ge" || name == ">=") return !values_less(v, operand());
  if (name == "in") {
    const Value& container = operand();
    if (container.is_string()) return v.is_string() && container.as_string().find(v.as_string()) != std::string::npos;
    if (container.is_dict()) return container.as_dict().find_key(v) != nullptr;
    for (const auto& item : iterate(container))
      if (values_equal(item, v)) return true;
    return false;
  }
  if (name == "divisibleby") {
    int64_t d = operand().as_int();
    return d != 0 && v.as_int() % d == 0;
  }
  if (name == "odd" || name == "even") {
    // value % 2, as Python evaluates it.
    if (v.is_undefined()) fail_undefined(v);
    if (v.is_string()) runtime_fail("not all arguments converted during string formatting");
    if (!v.is_number()) runtime_fail(fmt::format("unsupported operand type(s) for %: '{}' and 'int'", v.type_name()));
    bool odd = v.kind() == Kind::Float ? std::fmod(std::fabs(v.as_float()), 2.0) == 1.0 : (v.as_int() % 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "lower") {
    std::string s = to_str(v);
    return pystr::lower(s) == s && pystr::upper(s) != s;
  }
  if (name == "upper") {
    std::string s = to_str(v);
    return pystr::upper(s) == s && pystr::lower(s) != s;
  }
  if (name == "escaped") return v.is_markup();
  (void)in;
  runtime_fail(fmt::format("No test named '{}' found.", name));
}

}  // namespace hearth::chat::jinja

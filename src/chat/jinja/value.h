// Values of the template language, modelled on the Python objects Jinja2
// works with: Undefined, None, bool, int, float, str (plain or markupsafe's
// Markup), list, tuple, dict, generator, range, namespace and callables. Lists and dicts are immutable
// once built (the sandbox forbids mutation), so they are shared, not copied.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::chat::jinja {

class Value;
class Interpreter;

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,       // Python list
  Tuple,      // Python tuple
  Generator,  // what map/select/unique/items return: iterable once, no len()
  Range,      // lazy range(start, stop, step)
  Dict,
  Namespace,  // jinja2 namespace(): the one mutable object
  Callable,
};

using ValueList = std::vector<Value>;

// Insertion-ordered mapping (Python dicts keep insertion order, and it shows
// in tojson and items()). Keys are mostly strings; templates may also use
// numbers ({0: 0, 512: 128}).
class Dict {
 public:
  using Entry = std::pair<Value, Value>;
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Any key, compared as Python does (1 == 1.0 == True).
  const Value* find_key(const Value& key) const;
  void set(std::string key, Value value);
  void set(Value key, Value value);
  void set(const char* key, Value value);
  size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  // For in-place updates of values (the loop object).
  std::vector<Entry>& mutable_entries() { return entries_; }

 private:
  std::vector<Entry> entries_;
};

struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* keyword_arg(std::string_view name) const;
};

using NativeFunction = std::function<Value(Interpreter&, CallArgs&)>;

struct Callable {
  std::string name;
  NativeFunction call;
};

struct RangeSpec {
  int64_t start = 0, stop = 0, step = 1;
  int64_t size() const;
  int64_t at(int64_t i) const { return start + i * step; }
};

class Value {
 public:
  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  static Value none();
  Value(bool b);
  Value(int v) : Value(int64_t(v)) {}
  Value(int64_t v);
  Value(double v);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  // markupsafe.Markup: a str already safe for HTML. Jinja2 keeps it apart
  // from plain str even with autoescape off: `Markup + str`, `Markup % x`,
  // Markup's methods and |escape HTML-escape the plain operand.
  static Value markup(std::string s);
  static Value list(ValueList items);
  static Value tuple(ValueList items);
  static Value generator(ValueList items);
  static Value range(RangeSpec spec);
  static Value dict(Dict d);
  static Value namespace_object(Dict d);
  static Value callable(std::string name, NativeFunction fn);
  static Value from_json(const nlohmann::ordered_json& j);
  static Value from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && markup_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  // list, tuple or generator: a materialized sequence of items.
  bool is_sequence_like() const {
    return kind_ == Kind::List || kind_ == Kind::Tuple || kind_ == Kind::Generator;
  }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return kind_ == Kind::Float ? int64_t(float_) : int_; }
  double as_float() const { return kind_ == Kind::Float ? float_ : double(int_); }
  const std::string& as_string() const { return *string_; }
  // For Undefined: why it is undefined ("'x' is undefined").
  const std::string& undefined_hint() const { return *string_; }
  const ValueList& items() const { return *list_; }
  const RangeSpec& range_spec() const { return range_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& namespace_dict() const { return *dict_; }
  // For callables inside a namespace that update it (cycler.next()): a
  // reference that does not keep it alive.
  std::weak_ptr<Dict> namespace_handle() const { return dict_; }
  const Callable& as_callable() const { return *callable_; }

  // Python truthiness.
  bool truthy() const;
  // Python type name, as TypeError messages print it ("str", "NoneType").
  std::string type_name() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool bool_ = false;
  bool markup_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  RangeSpec range_;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> callable_;
};

// markupsafe.escape's HTML escaping of & < > " ' (without the Markup wrapper).
std::string html_escape(std::string_view s);
// markupsafe.escape(v): Markup stays as it is, anything else is str()-ed and
// escaped.
Value escape_value(const Value& v);

// Python str(): what {{ x }} prints.
std::string to_str(const Value& v);
// Python repr(): how strings look inside printed lists and dicts.
std::string to_repr(const Value& v);
std::string repr_string(std::string_view s);
std::string repr_float(double f);

// Python ==.
bool values_equal(const Value& a, const Value& b);
// Python <, for numbers, strings and sequences; throws TypeError otherwise.
bool values_less(const Value& a, const Value& b);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  // Indent string per level; unset means no indentation (one line).
  bool indented = false;
  std::string indent;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// Python json.dumps; throws for values JSON cannot hold (Undefined, generators).
std::string json_dumps(const Value& v, const JsonDumpOptions& options);

// Materializes any iterable (list, tuple, generator, range, dict keys, string
// characters; Undefined gives nothing) or throws TypeError "not iterable".
ValueList iterate(const Value& v);

}  // namespace hearth::chat::jinja

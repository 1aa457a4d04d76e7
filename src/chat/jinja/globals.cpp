// The global functions templates can call: range, namespace, dict, cycler,
// joiner, and transformers' raise_exception and strftime_now.
#include <ctime>

#include <fmt/format.h>

#include "chat/jinja/interpreter.h"

namespace hearth::chat::jinja {
namespace {

int64_t require_int(const Value& v, const char* what) {
  if (v.kind() == Kind::Int || v.kind() == Kind::Bool) return v.as_int();
  runtime_fail(fmt::format("{} must be integers, not {}", what, v.type_name()));
}

}  // namespace

Value Interpreter::builtin_global(const std::string& name) {
  if (name == "range") {
    return Value::callable("range", [](Interpreter&, CallArgs& args) -> Value {
      auto& p = args.positional;
      if (p.empty() || p.size() > 3) runtime_fail("range expected 1 to 3 arguments");
      RangeSpec r;
      if (p.size() == 1) {
        r.stop = require_int(p[0], "range() arguments");
      } else {
        r.start = require_int(p[0], "range() arguments");
        r.stop = require_int(p[1], "range() arguments");
        if (p.size() == 3) r.step = require_int(p[2], "range() arguments");
        if (r.step == 0) runtime_fail("range() arg 3 must not be zero");
      }
      return Value::range(r);
    });
  }
  if (name == "namespace" || name == "dict") {
    bool is_ns = name == "namespace";
    return Value::callable(name, [is_ns](Interpreter&, CallArgs& args) -> Value {
      Dict d;
      for (const auto& p : args.positional) {
        if (!p.is_dict()) runtime_fail("namespace()/dict() positional argument must be a mapping");
        for (const auto& [k, v] : p.as_dict().entries()) d.set(k, v);
      }
      for (const auto& [k, v] : args.keyword) d.set(k, v);
      return is_ns ? Value::namespace_object(std::move(d)) : Value::dict(std::move(d));
    });
  }
  if (name == "cycler") {
    return Value::callable(name, [](Interpreter&, CallArgs& args) -> Value {
      // jinja2.utils.Cycler: next() returns the current item and moves on;
      // .current is the item the next call returns; reset() goes back.
      if (args.positional.empty()) runtime_fail("at least one item has to be provided");
      struct CyclerState {
        ValueList items;
        size_t pos = 0;
        std::weak_ptr<Dict> self;
      };
      auto state = std::make_shared<CyclerState>();
      state->items = args.positional;
      Dict fields;
      fields.set("current", state->items[0]);
      fields.set("next", Value::callable("next", [state](Interpreter&, CallArgs&) -> Value {
                   Value rv = state->items[state->pos];
                   state->pos = (state->pos + 1) % state->items.size();
                   if (auto self = state->self.lock()) self->set("current", state->items[state->pos]);
                   return rv;
                 }));
      fields.set("reset", Value::callable("reset", [state](Interpreter&, CallArgs&) -> Value {
                   state->pos = 0;
                   if (auto self = state->self.lock()) self->set("current", state->items[0]);
                   return Value::none();
                 }));
      Value cycler = Value::namespace_object(std::move(fields));
      state->self = cycler.namespace_handle();
      return cycler;
    });
  }
  if (name == "joiner") {
    return Value::callable(name, [](Interpreter&, CallArgs& args) -> Value {
      // jinja2.utils.Joiner: "" the first time it is called, `sep` after.
      const Value* sep = !args.positional.empty() ? &args.positional[0] : args.keyword_arg("sep");
      std::string separator = sep ? to_str(*sep) : std::string(", ");
      auto used = std::make_shared<bool>(false);
      return Value::callable("joiner", [separator, used](Interpreter&, CallArgs&) -> Value {
        if (!*used) {
          *used = true;
          return Value("");
        }
        return Value(separator);
      });
    });
  }
  if (name == "raise_exception") {
    return Value::callable(name, [](Interpreter&, CallArgs& args) -> Value {
      std::string msg = args.positional.empty() ? std::string() : to_str(args.positional[0]);
      throw RuntimeFailure{ErrorKind::Raised, msg};
    });
  }
  if (name == "strftime_now") {
    return Value::callable(name, [](Interpreter& in, CallArgs& args) -> Value {
      if (args.positional.empty() || !args.positional[0].is_string()) runtime_fail("strftime_now() needs a format string");
      DateTime now;
      if (in.options().clock) {
        now = in.options().clock();
      } else {
        std::time_t t = std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        now = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
      }
      return Value(format_time(now, args.positional[0].as_string()));
    });
  }
  return Value::undefined(fmt::format("'{}' is undefined", name));
}

}  // namespace hearth::chat::jinja

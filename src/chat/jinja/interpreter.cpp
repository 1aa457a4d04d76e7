#include "chat/jinja/interpreter.h"

#include <cmath>

#include <fmt/format.h>

#include "chat/jinja/pystr.h"

namespace hearth::chat::jinja {

void fail_undefined(const Value& v) {
  const std::string& hint = v.undefined_hint();
  throw RuntimeFailure{ErrorKind::Runtime, hint.empty() ? std::string("value is undefined") : hint};
}

namespace {

[[noreturn]] void fail_limit(std::string message) { throw RuntimeFailure{ErrorKind::Limit, std::move(message)}; }

std::string object_description(const Value& v) {
  // How jinja2 names an object in "... has no attribute" messages.
  if (v.is_none()) return "'None'";
  return fmt::format("'{} object'", v.type_name());
}

Value no_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("{} has no attribute '{}'", object_description(obj), name));
}

// markupsafe's _MarkupEscapeHelper: what `Markup % args` formats. Strings
// and containers are escaped; numbers stay numbers so %d and %f still work.
Value escape_format_arg(const Value& v) {
  if (v.is_number() || v.is_none()) return v;
  return escape_value(v);
}

Value escape_format_args(const Value& args) {
  if (args.kind() == Kind::Tuple) {
    ValueList items;
    for (const auto& item : args.items()) items.push_back(escape_format_arg(item));
    return Value::tuple(std::move(items));
  }
  if (args.is_dict()) {
    Dict d;
    for (const auto& [k, item] : args.as_dict().entries()) d.set(k, escape_format_arg(item));
    return Value::dict(std::move(d));
  }
  return escape_format_arg(args);
}

int64_t require_int(const Value& v, const char* what) {
  if (v.kind() == Kind::Int || v.kind() == Kind::Bool) return v.as_int();
  runtime_fail(fmt::format("{} must be integers, not {}", what, v.type_name()));
}

}  // namespace

Interpreter::Interpreter(const std::string& template_name, const RenderOptions& options, std::shared_ptr<Scope> globals)
    : template_name_(template_name), options_(options), scope_(std::move(globals)) {
  deadline_ = std::chrono::steady_clock::now() + options_.limits.max_time;
  stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
}

void Interpreter::check_stack() const {
  uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uintptr_t used = here < stack_base_ ? stack_base_ - here : here - stack_base_;
  if (used > options_.limits.max_stack_bytes) fail_limit("template nesting or recursion is too deep");
}

void Interpreter::render(const Body& body, std::string& out) {
  try {
    exec(body, out);
  } catch (const RuntimeFailure& f) {
    throw TemplateError(f.kind, f.message, template_name_, line_);
  }
}

void Interpreter::step() {
  ++steps_;
  if (steps_ > options_.limits.max_steps)
    fail_limit(fmt::format("template exceeded {} evaluation steps (infinite loop?)", options_.limits.max_steps));
  if ((steps_ & 1023) == 0 && std::chrono::steady_clock::now() > deadline_)
    fail_limit(fmt::format("template rendering took longer than {} ms", options_.limits.max_time.count()));
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes)
    fail_limit(fmt::format("template output exceeds {} bytes", options_.limits.max_output_bytes));
}

void Interpreter::append_output(std::string& out, std::string_view text) {
  check_size(out.size() + text.size());
  out.append(text);
}

Flow Interpreter::exec(const Body& body, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Flow Interpreter::exec_stmt(const Stmt& s, std::string& out) {
  line_ = s.line;
  step();
  check_stack();
  switch (s.kind) {
    case StmtKind::Text: append_output(out, s.text); return Flow::Normal;
    case StmtKind::Output: {
      Value v = eval(*s.expr);
      line_ = s.line;
      if (v.is_string())
        append_output(out, v.as_string());
      else
        append_output(out, to_str(v));
      return Flow::Normal;
    }
    case StmtKind::If: {
      bool cond = eval(*s.expr).truthy();
      return exec(cond ? s.body : s.else_body, out);
    }
    case StmtKind::For: return exec_for(s, out);
    case StmtKind::Set: {
      Value v = eval(*s.expr);
      line_ = s.line;
      if (!s.attr.empty()) {
        Value target = lookup(s.targets[0]);
        if (target.kind() != Kind::Namespace) runtime_fail("cannot assign attribute on non-namespace object");
        target.namespace_dict().set(s.attr, std::move(v));
      } else {
        assign(s.targets, v);
      }
      return Flow::Normal;
    }
    case StmtKind::SetBlock: {
      std::string captured;
      exec(s.body, captured);
      Value v(std::move(captured));
      for (const auto& f : s.filters) {
        CallArgs args;
        for (const auto& a : f->args) args.positional.push_back(eval(*a));
        for (const auto& [k, a] : f->kwargs) args.keyword.emplace_back(k, eval(*a));
        v = apply_filter(f->name, v, args);
      }
      assign(s.targets, v);
      return Flow::Normal;
    }
    case StmtKind::Macro: {
      // The macro lives in the scope it closes over; a weak reference breaks
      // that cycle, and macro_scopes_ keeps the scope alive for the render.
      const Stmt* macro = &s;
      macro_scopes_.push_back(scope_);
      std::weak_ptr<Scope> closure = scope_;
      Value fn = Value::callable(s.name, [macro, closure](Interpreter& in, CallArgs& args) {
        std::shared_ptr<Scope> scope = closure.lock();
        if (!scope) runtime_fail(fmt::format("macro '{}' called after its scope ended", macro->name));
        return in.call_macro(*macro, scope, args);
      });
      scope_->vars.set(s.name, std::move(fn));
      return Flow::Normal;
    }
    case StmtKind::FilterBlock: {
      std::string captured;
      exec(s.body, captured);
      Value v(std::move(captured));
      for (const auto& f : s.filters) {
        CallArgs args;
        for (const auto& a : f->args) args.positional.push_back(eval(*a));
        for (const auto& [k, a] : f->kwargs) args.keyword.emplace_back(k, eval(*a));
        v = apply_filter(f->name, v, args);
      }
      append_output(out, to_str(v));
      return Flow::Normal;
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::Generation: return exec(s.body, out);
    case StmtKind::CallBlock: {
      // caller() renders the block body, like a macro defined in place.
      const Stmt* block = &s;
      std::shared_ptr<Scope> closure = scope_;
      Value caller = Value::callable("caller", [block, closure](Interpreter& in, CallArgs& args) {
        return in.call_macro(*block, closure, args);
      });
      const Expr& call = *s.expr;
      Value callee = eval(*call.subject);
      CallArgs args;
      for (const auto& a : call.args) args.positional.push_back(eval(*a));
      for (const auto& [k, a] : call.kwargs) args.keyword.emplace_back(k, eval(*a));
      args.keyword.emplace_back("caller", std::move(caller));
      line_ = s.line;
      Value result = this->call(callee, args);
      append_output(out, to_str(result));
      return Flow::Normal;
    }
  }
  return Flow::Normal;
}

void Interpreter::assign(const std::vector<std::string>& targets, const Value& value) {
  if (targets.size() == 1) {
    scope_->vars.set(targets[0], value);
    return;
  }
  ValueList parts = iterate(value);
  if (parts.size() != targets.size())
    runtime_fail(parts.size() < targets.size()
                     ? fmt::format("not enough values to unpack (expected {}, got {})", targets.size(), parts.size())
                     : fmt::format("too many values to unpack (expected {})", targets.size()));
  for (size_t i = 0; i < targets.size(); ++i) scope_->vars.set(targets[i], parts[i]);
}

Flow Interpreter::exec_for(const Stmt& s, std::string& out) {
  Value iterable = eval(*s.expr);
  line_ = s.line;
  return run_loop(s, iterable, 1, scope_, out);
}

namespace {

// What loop.cycle and loop.changed read and write, shared with their
// callables so those stay valid if a template keeps them.
struct LoopState {
  int64_t index0 = 0;
  bool has_last = false;
  Value last_changed;
};

}  // namespace

Flow Interpreter::run_loop(const Stmt& s, const Value& iterable, int64_t depth, const std::shared_ptr<Scope>& outer,
                           std::string& out) {
  auto loop_scope = std::make_shared<Scope>();
  loop_scope->parent = outer;
  struct Restore {
    Interpreter& in;
    std::shared_ptr<Scope> saved;
    ~Restore() { in.scope_ = saved; }
  } restore{*this, scope_};
  scope_ = loop_scope;

  bool lazy_range = iterable.kind() == Kind::Range && !s.condition;
  ValueList items;
  int64_t count = 0;
  if (lazy_range) {
    count = iterable.range_spec().size();
  } else {
    if (iterable.is_none()) runtime_fail("'NoneType' object is not iterable");
    ValueList all = iterate(iterable);
    if (s.condition) {
      for (auto& item : all) {
        step();
        assign(s.targets, item);
        if (eval(*s.condition).truthy()) items.push_back(std::move(item));
      }
    } else {
      items = std::move(all);
    }
    count = int64_t(items.size());
  }
  auto item_at = [&](int64_t i) -> Value {
    if (i < 0 || i >= count) return Value::undefined("there is no such item");
    return lazy_range ? Value(iterable.range_spec().at(i)) : items[size_t(i)];
  };

  Dict loop_fields;
  for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem",
                          "nextitem", "depth", "depth0"})
    loop_fields.set(key, Value());
  auto state = std::make_shared<LoopState>();
  loop_fields.set("cycle", Value::callable("cycle", [state](Interpreter&, CallArgs& args) -> Value {
                    if (args.positional.empty()) runtime_fail("no items for cycling given");
                    return args.positional[size_t(state->index0 % int64_t(args.positional.size()))];
                  }));
  loop_fields.set("changed", Value::callable("changed", [state](Interpreter&, CallArgs& args) -> Value {
                    // loop.changed(*values): whether the values differ from the previous call's.
                    Value current = Value::list(args.positional);
                    if (state->has_last && values_equal(state->last_changed, current)) return Value(false);
                    state->has_last = true;
                    state->last_changed = std::move(current);
                    return Value(true);
                  }));
  if (s.recursive) {
    // loop(items) renders this loop again over `items`, one level deeper.
    // Hidden from templates: get_attr refuses names starting with '_'.
    const Stmt* stmt = &s;
    std::weak_ptr<Scope> weak_outer = outer;
    loop_fields.set("__call__", Value::callable("loop", [stmt, weak_outer, depth](Interpreter& in, CallArgs& args) {
                      if (args.positional.size() != 1) runtime_fail("loop() takes exactly one argument (the items)");
                      std::shared_ptr<Scope> scope = weak_outer.lock();
                      if (!scope) runtime_fail("loop() called after its loop ended");
                      if (in.depth_ >= in.options_.limits.max_call_depth)
                        fail_limit(fmt::format("maximum loop recursion depth ({}) exceeded", in.options_.limits.max_call_depth));
                      ++in.depth_;
                      std::string rendered;
                      try {
                        in.run_loop(*stmt, args.positional[0], depth + 1, scope, rendered);
                      } catch (...) {
                        --in.depth_;
                        throw;
                      }
                      --in.depth_;
                      return Value(std::move(rendered));
                    }));
  }
  Value loop = Value::namespace_object(std::move(loop_fields));
  auto& entries = loop.namespace_dict().mutable_entries();
  loop_scope->vars.set("loop", loop);

  for (int64_t i = 0; i < count; ++i) {
    step();
    Value item = item_at(i);
    state->index0 = i;
    entries[0].second = Value(i + 1);
    entries[1].second = Value(i);
    entries[2].second = Value(count - i);
    entries[3].second = Value(count - i - 1);
    entries[4].second = Value(i == 0);
    entries[5].second = Value(i == count - 1);
    entries[6].second = Value(count);
    entries[7].second = item_at(i - 1);
    entries[8].second = item_at(i + 1);
    entries[9].second = Value(depth);
    entries[10].second = Value(depth - 1);
    // Each iteration starts from a fresh scope: a {% set %} in the body is
    // not seen by the next iteration (it reads the outer value again).
    if (loop_scope->vars.size() > s.targets.size() + 1) loop_scope->vars = Dict();
    loop_scope->vars.set("loop", loop);
    assign(s.targets, item);
    Flow f = exec(s.body, out);
    if (f == Flow::Break) break;
  }
  if (count == 0) return exec(s.else_body, out);
  return Flow::Normal;
}

Value Interpreter::call_macro(const Stmt& macro, const std::shared_ptr<Scope>& closure, CallArgs& args) {
  if (depth_ >= options_.limits.max_call_depth)
    fail_limit(fmt::format("maximum macro recursion depth ({}) exceeded in '{}'", options_.limits.max_call_depth,
                           macro.name));
  step();
  auto frame = std::make_shared<Scope>();
  frame->parent = closure;
  if (args.positional.size() > macro.params.size() && !macro.catch_varargs)
    runtime_fail(fmt::format("macro '{}' takes not more than {} argument(s)", macro.name, macro.params.size()));
  for (size_t i = 0; i < macro.params.size(); ++i) {
    const auto& [pname, def] = macro.params[i];
    if (i < args.positional.size()) {
      frame->vars.set(pname, args.positional[i]);
    } else if (const Value* kw = args.keyword_arg(pname)) {
      frame->vars.set(pname, *kw);
    } else if (def) {
      std::shared_ptr<Scope> saved = scope_;
      scope_ = frame;
      Value dv = eval(*def);
      scope_ = saved;
      frame->vars.set(pname, dv);
    } else {
      frame->vars.set(pname, Value::undefined(fmt::format("parameter '{}' was not provided", pname)));
    }
  }
  Dict extra_keywords;
  for (const auto& [k, v] : args.keyword) {
    if (k == "caller") {  // passed by {% call %}
      frame->vars.set("caller", v);
      continue;
    }
    bool known = false;
    for (const auto& p : macro.params) known = known || p.first == k;
    if (known) continue;
    if (!macro.catch_kwargs) runtime_fail(fmt::format("macro '{}' takes no keyword argument '{}'", macro.name, k));
    extra_keywords.set(k, v);
  }
  if (macro.catch_varargs) {
    ValueList extra;
    for (size_t i = macro.params.size(); i < args.positional.size(); ++i) extra.push_back(args.positional[i]);
    frame->vars.set("varargs", Value::tuple(std::move(extra)));
  }
  if (macro.catch_kwargs) frame->vars.set("kwargs", Value::dict(std::move(extra_keywords)));
  std::shared_ptr<Scope> saved = scope_;
  int saved_line = line_;
  scope_ = frame;
  ++depth_;
  std::string out;
  try {
    exec(macro.body, out);
  } catch (...) {
    scope_ = saved;
    --depth_;
    throw;
  }
  scope_ = saved;
  --depth_;
  line_ = saved_line;
  return Value(std::move(out));
}

Value Interpreter::lookup(const std::string& name) {
  for (Scope* s = scope_.get(); s != nullptr; s = s->parent.get())
    if (const Value* v = s->vars.find(name)) return *v;
  return builtin_global(name);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!name.empty() && name[0] == '_') return no_attribute(obj, name);  // sandbox: no private attributes
  if (obj.kind() == Kind::Namespace) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
    return no_attribute(obj, name);
  }
  if (has_method(obj, name)) {
    Value self = obj;
    return Value::callable(name, [self, name](Interpreter& in, CallArgs& args) {
      return call_method(in, self, name, args);
    });
  }
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  }
  return no_attribute(obj, name);
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  switch (obj.kind()) {
    case Kind::Dict:
    case Kind::Namespace:
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
        if (obj.kind() == Kind::Dict) return get_attr(obj, key.as_string());
        return no_attribute(obj, key.as_string());
      }
      if (const Value* v = obj.as_dict().find_key(key)) return *v;
      break;
    case Kind::List:
    case Kind::Tuple:
    case Kind::String:
    case Kind::Range:
      if (key.kind() == Kind::Int || key.kind() == Kind::Bool) {
        int64_t n = obj.kind() == Kind::String   ? int64_t(pystr::length(obj.as_string()))
                    : obj.kind() == Kind::Range ? obj.range_spec().size()
                                                : int64_t(obj.items().size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(fmt::format("{} has no element {}", object_description(obj), key.as_int()));
        if (obj.kind() == Kind::Range) return Value(obj.range_spec().at(i));
        if (obj.kind() != Kind::String) return obj.items()[size_t(i)];
        const std::string& s = obj.as_string();
        std::string ch = pystr::is_ascii(s) ? std::string(1, s[size_t(i)]) : pystr::encode(pystr::decode(s).substr(size_t(i), 1));
        return obj.is_markup() ? Value::markup(std::move(ch)) : Value(std::move(ch));
      }
      if (key.is_string()) return get_attr(obj, key.as_string());
      break;
    default:
      if (key.is_string()) return get_attr(obj, key.as_string());
      break;
  }
  return Value::undefined(fmt::format("{} has no element {}", object_description(obj), to_repr(key)));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind() == Kind::Namespace) {  // a recursive loop object: loop(items)
    if (const Value* fn = callee.as_dict().find("__call__")) return fn->as_callable().call(*this, args);
  }
  if (!callee.is_callable()) runtime_fail(fmt::format("'{}' object is not callable", callee.type_name()));
  return callee.as_callable().call(*this, args);
}

Value Interpreter::eval_call(const Expr& e) {
  CallArgs args;
  auto eval_args = [&] {
    args.positional.reserve(e.args.size());
    for (const auto& a : e.args) args.positional.push_back(eval(*a));
    for (const auto& [k, a] : e.kwargs) args.keyword.emplace_back(k, eval(*a));
  };
  if (e.subject->kind == ExprKind::Attr) {
    // obj.method(...): call the method directly, without a bound object.
    Value obj = eval(*e.subject->subject);
    const std::string& name = e.subject->name;
    if (obj.is_undefined()) fail_undefined(obj);
    if (obj.kind() != Kind::Namespace && name[0] != '_' && has_method(obj, name)) {
      eval_args();
      line_ = e.line;
      return call_method(*this, obj, name, args);
    }
    Value callee = get_attr(obj, name);
    eval_args();
    line_ = e.line;
    return call(callee, args);
  }
  Value callee = eval(*e.subject);
  eval_args();
  line_ = e.line;
  return call(callee, args);
}

Value Interpreter::apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
  return call_filter(*this, name, subject, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& subject, CallArgs& args) {
  return call_test(*this, name, subject, args);
}

Value Interpreter::eval(const Expr& e) {
  check_stack();
  switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Name: return lookup(e.name);
    case ExprKind::List:
    case ExprKind::Tuple: {
      ValueList items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a));
      return e.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::DictLit: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i]);
        d.set(std::move(k), eval(*e.args[i + 1]));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::Attr: {
      Value obj = eval(*e.subject);
      line_ = e.line;
      return get_attr(obj, e.name);
    }
    case ExprKind::Item: {
      Value obj = eval(*e.subject);
      Value key = eval(*e.right);
      line_ = e.line;
      return get_item(obj, key);
    }
    case ExprKind::Slice: {
      Value obj = eval(*e.subject);
      std::optional<int64_t> parts[3];
      for (int i = 0; i < 3; ++i) {
        if (!e.args[size_t(i)]) continue;
        Value v = eval(*e.args[size_t(i)]);
        if (v.is_none()) continue;
        parts[i] = require_int(v, "slice indices");
      }
      line_ = e.line;
      if (obj.is_undefined()) fail_undefined(obj);
      if (parts[2] && *parts[2] == 0) runtime_fail("slice step cannot be zero");
      if (obj.is_string()) {
        std::u32string cps = pystr::decode(obj.as_string());
        std::u32string out;
        for (int64_t i : pystr::slice_indices(int64_t(cps.size()), parts[0], parts[1], parts[2])) out.push_back(cps[size_t(i)]);
        return obj.is_markup() ? Value::markup(pystr::encode(out)) : Value(pystr::encode(out));
      }
      if (obj.kind() == Kind::List || obj.kind() == Kind::Tuple || obj.kind() == Kind::Range) {
        ValueList src = iterate(obj);
        ValueList out;
        for (int64_t i : pystr::slice_indices(int64_t(src.size()), parts[0], parts[1], parts[2])) out.push_back(src[size_t(i)]);
        return obj.kind() == Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
      }
      // Slices bypass jinja2's forgiving getitem: Python's TypeError surfaces.
      if (obj.is_dict()) runtime_fail("unhashable type: 'slice'");
      runtime_fail(fmt::format("'{}' object is not subscriptable", obj.type_name()));
    }
    case ExprKind::Call: return eval_call(e);
    case ExprKind::Filter: {
      Value subject = e.subject ? eval(*e.subject) : Value();
      CallArgs args;
      for (const auto& a : e.args) args.positional.push_back(eval(*a));
      for (const auto& [k, a] : e.kwargs) args.keyword.emplace_back(k, eval(*a));
      line_ = e.line;
      return apply_filter(e.name, subject, args);
    }
    case ExprKind::Test: {
      Value subject = eval(*e.subject);
      CallArgs args;
      for (const auto& a : e.args) args.positional.push_back(eval(*a));
      for (const auto& [k, a] : e.kwargs) args.keyword.emplace_back(k, eval(*a));
      line_ = e.line;
      bool r = apply_test(e.name, subject, args);
      return Value(e.negated ? !r : r);
    }
    case ExprKind::Not: return Value(!eval(*e.subject).truthy());
    case ExprKind::Neg:
    case ExprKind::Pos: {
      Value v = eval(*e.subject);
      line_ = e.line;
      if (v.is_undefined()) fail_undefined(v);
      if (v.kind() == Kind::Float) return Value(e.kind == ExprKind::Neg ? -v.as_float() : v.as_float());
      if (v.is_int()) return Value(e.kind == ExprKind::Neg ? -v.as_int() : v.as_int());
      runtime_fail(fmt::format("bad operand type for unary {}: '{}'", e.kind == ExprKind::Neg ? '-' : '+', v.type_name()));
    }
    case ExprKind::Binary: {
      Value a = eval(*e.subject);
      Value b = eval(*e.right);
      line_ = e.line;
      return eval_binary(e.name, a, b);
    }
    case ExprKind::And: {
      Value a = eval(*e.subject);
      return a.truthy() ? eval(*e.right) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.subject);
      return a.truthy() ? a : eval(*e.right);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0]);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1]);
        line_ = e.line;
        if (!eval_compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::Cond: {
      if (eval(*e.right).truthy()) return eval(*e.subject);
      if (e.third) return eval(*e.third);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
  }
  return Value();
}

bool Interpreter::eval_compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return values_equal(a, b);
  if (op == "!=") return !values_equal(a, b);
  if (op == "in" || op == "notin") {
    bool found = false;
    if (b.is_string()) {
      if (a.is_undefined()) fail_undefined(a);
      if (!a.is_string())
        runtime_fail(fmt::format("'in <string>' requires string as left operand, not {}", a.type_name()));
      found = b.as_string().find(a.as_string()) != std::string::npos;
    } else if (b.is_dict() || b.kind() == Kind::Namespace) {
      found = b.as_dict().find_key(a) != nullptr;
    } else if (b.is_undefined()) {
      found = false;
    } else if (b.is_sequence_like() || b.kind() == Kind::Range) {
      for (const auto& item : iterate(b))
        if (values_equal(item, a)) {
          found = true;
          break;
        }
    } else {
      runtime_fail(fmt::format("argument of type '{}' is not iterable", b.type_name()));
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  auto unsupported = [&]() -> bool {
    runtime_fail(fmt::format("'{}' not supported between instances of '{}' and '{}'", op, a.type_name(), b.type_name()));
  };
  bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                    (a.kind() == b.kind() && (a.kind() == Kind::List || a.kind() == Kind::Tuple));
  if (!comparable) return unsupported();
  if (op == "<") return values_less(a, b);
  if (op == ">") return values_less(b, a);
  if (op == "<=") return !values_less(b, a);
  if (op == ">=") return !values_less(a, b);
  return unsupported();
}

Value Interpreter::eval_binary(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = to_str(a);
    s += to_str(b);
    check_size(s.size());
    return Value(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  auto unsupported = [&]() -> Value {
    runtime_fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
  };
  bool both_numbers = a.is_number() && b.is_number();
  bool any_float = a.kind() == Kind::Float || b.kind() == Kind::Float;
  if (op == "+") {
    if (both_numbers) return any_float ? Value(a.as_float() + b.as_float()) : Value(a.as_int() + b.as_int());
    if (a.is_markup() || b.is_markup()) {
      // Markup.__add__ / __radd__: the plain operand is escaped first.
      if (!a.is_string() || !b.is_string()) return unsupported();
      std::string joined = escape_value(a).as_string() + escape_value(b).as_string();
      check_size(joined.size());
      return Value::markup(std::move(joined));
    }
    if (a.is_string()) {
      if (!b.is_string()) runtime_fail(fmt::format("can only concatenate str (not \"{}\") to str", b.type_name()));
      check_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.kind() == Kind::List || a.kind() == Kind::Tuple) {
      if (b.kind() != a.kind())
        runtime_fail(fmt::format("can only concatenate {} (not \"{}\") to {}", a.type_name(), b.type_name(), a.type_name()));
      ValueList out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return a.kind() == Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    return unsupported();
  }
  if (op == "-") {
    if (!both_numbers) return unsupported();
    return any_float ? Value(a.as_float() - b.as_float()) : Value(a.as_int() - b.as_int());
  }
  if (op == "*") {
    if (both_numbers) return any_float ? Value(a.as_float() * b.as_float()) : Value(a.as_int() * b.as_int());
    const Value* seq = a.is_int() ? &b : &a;
    const Value* count = a.is_int() ? &a : &b;
    if (!count->is_int() || count->kind() == Kind::Float) return unsupported();
    int64_t n = std::max<int64_t>(0, count->as_int());
    if (seq->is_string()) {
      check_size(size_t(n) * seq->as_string().size());
      std::string out;
      out.reserve(size_t(n) * seq->as_string().size());
      for (int64_t i = 0; i < n; ++i) out += seq->as_string();
      return seq->is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
    }
    if (seq->kind() == Kind::List || seq->kind() == Kind::Tuple) {
      check_size(size_t(n) * seq->items().size());
      ValueList out;
      for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq->items().begin(), seq->items().end());
      return seq->kind() == Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    return unsupported();
  }
  if (op == "/") {
    if (!both_numbers) return unsupported();
    if (b.as_float() == 0) runtime_fail("division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//") {
    if (!both_numbers) return unsupported();
    if (b.as_float() == 0) runtime_fail("integer division or modulo by zero");
    if (any_float) return Value(std::floor(a.as_float() / b.as_float()));
    int64_t q = a.as_int() / b.as_int();
    if ((a.as_int() % b.as_int() != 0) && ((a.as_int() < 0) != (b.as_int() < 0))) --q;
    return Value(q);
  }
  if (op == "%") {
    if (a.is_markup()) return Value::markup(percent_format(a.as_string(), escape_format_args(b)));
    if (a.is_string()) return Value(percent_format(a.as_string(), b));
    if (!both_numbers) return unsupported();
    if (b.as_float() == 0) runtime_fail("integer division or modulo by zero");
    if (any_float) {
      double r = std::fmod(a.as_float(), b.as_float());
      if (r != 0 && ((r < 0) != (b.as_float() < 0))) r += b.as_float();
      return Value(r);
    }
    int64_t r = a.as_int() % b.as_int();
    if (r != 0 && ((r < 0) != (b.as_int() < 0))) r += b.as_int();
    return Value(r);
  }
  if (op == "**") {
    if (!both_numbers) return unsupported();
    if (!any_float && b.as_int() >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b.as_int() && i < 64; ++i) r *= a.as_int();
      return Value(r);
    }
    return Value(std::pow(a.as_float(), b.as_float()));
  }
  return unsupported();
}

}  // namespace hearth::chat::jinja

// Evaluates a parsed template. Internal to the engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/template.h"

namespace hearth::chat::jinja {

struct Scope {
  Dict vars;
  std::shared_ptr<Scope> parent;
};

enum class Flow { Normal, Break, Continue };

class Interpreter {
 public:
  Interpreter(const std::string& template_name, const RenderOptions& options, std::shared_ptr<Scope> globals);

  // Renders `body` into `out`.
  void render(const Body& body, std::string& out);

  Value eval(const Expr& e);
  Value call(const Value& callee, CallArgs& args);
  // a.b: Python attribute first, then item. a[k]: item first, then attribute.
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
  bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
  // A binary operator (+ - * / // % ** ~) as Python applies it.
  Value eval_binary(const std::string& op, const Value& a, const Value& b);

  const RenderOptions& options() const { return options_; }
  // Counts work against the step and time limits.
  void step();
  // Fails with a limit error when a string of `bytes` would be too large.
  void check_size(size_t bytes) const;

 private:
  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  // One level of a for loop over `iterable`; recursive loops call it again
  // from loop(items) with depth + 1.
  Flow run_loop(const Stmt& s, const Value& iterable, int64_t depth, const std::shared_ptr<Scope>& outer,
                std::string& out);
  void assign(const std::vector<std::string>& targets, const Value& value);
  Value lookup(const std::string& name);
  bool eval_compare(const std::string& op, const Value& a, const Value& b);
  Value eval_call(const Expr& e);
  Value call_macro(const Stmt& macro, const std::shared_ptr<Scope>& closure, CallArgs& args);
  Value builtin_global(const std::string& name);
  void append_output(std::string& out, std::string_view text);

  const std::string& template_name_;
  const RenderOptions& options_;
  std::shared_ptr<Scope> scope_;
  std::vector<std::shared_ptr<Scope>> macro_scopes_;
  int line_ = 0;
  int depth_ = 0;
  uint64_t steps_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  uintptr_t stack_base_ = 0;

 public:
  // Fails with a limit error when rendering has used too much native stack.
  void check_stack() const;
};

// Defined in builtins.cpp / methods.cpp.
Value call_filter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);
bool call_test(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);
// Python methods on str/dict/list values: whether `self` has one called
// `name`, and calling it (mutating list/dict methods raise the sandbox's
// SecurityError).
bool has_method(const Value& self, const std::string& name);
Value call_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args);
// Python's % operator on a format string.
std::string percent_format(const std::string& format, const Value& args);
// UndefinedError: using an undefined value where a real one is needed.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace hearth::chat::jinja

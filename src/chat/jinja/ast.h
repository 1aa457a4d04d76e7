// Syntax tree of a parsed template.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace hearth::chat::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  Literal,    // literal
  Name,       // name
  List,       // args = items
  Tuple,      // args = items
  DictLit,    // args = key, value, key, value, ...
  Attr,       // subject.name
  Item,       // subject[index]
  Slice,      // subject[args[0]:args[1]:args[2]] (null = omitted)
  Call,       // subject(args, kwargs)
  Filter,     // subject | name(args, kwargs); subject null inside filter blocks
  Test,       // subject is [not] name(args)
  Not,        // not subject
  Neg,        // -subject
  Pos,        // +subject
  Binary,     // subject <name> right, for + - * / // % ** ~
  And,        // subject and right
  Or,         // subject or right
  Compare,    // args[0] ops[0] args[1] ops[1] args[2] ...
  Cond,       // subject if right else third
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  ExprPtr subject, right, third;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

enum class StmtKind {
  Text,         // text
  Output,       // {{ expr }}
  If,           // expr, body, else_body
  For,          // targets in expr [if condition] [recursive], body, else_body
  Set,          // targets (or targets[0].attr) = expr
  SetBlock,     // {% set targets[0] | filters %} body
  Macro,        // name(params) body
  FilterBlock,  // {% filter filters %} body
  Break,
  Continue,
  Generation,   // {% generation %} body: transformers' assistant-mask tag
  CallBlock,    // {% call(params) expr %} body: expr called with caller() = body
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attr;
  Body body, else_body;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;
  // Filters of a filter block or set block: Filter nodes with a null subject,
  // applied in order.
  std::vector<ExprPtr> filters;
  // For: `recursive` (the loop object can be called as loop(items)).
  bool recursive = false;
  // Macro: whether its body reads `varargs` / `kwargs`, which makes it take
  // extra positional / keyword arguments (jinja2's catch_varargs/kwargs).
  bool catch_varargs = false;
  bool catch_kwargs = false;
};

// Parses template source the way Jinja2 does with trim_blocks and
// lstrip_blocks on and keep_trailing_newline off. Throws TemplateError
// (ErrorKind::Syntax) with the line.
Body parse_template(std::string_view source, const std::string& template_name);

}  // namespace hearth::chat::jinja

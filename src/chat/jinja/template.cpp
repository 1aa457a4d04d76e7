#include "chat/jinja/template.h"

#include <fmt/format.h>

#include "chat/jinja/ast.h"
#include "chat/jinja/interpreter.h"

namespace hearth::chat::jinja {

namespace {

std::string located(ErrorKind kind, const std::string& message, const std::string& name, int line) {
  if (kind == ErrorKind::Raised) return message;
  const char* what = kind == ErrorKind::Syntax ? "syntax error" : kind == ErrorKind::Limit ? "limit exceeded" : "error";
  return fmt::format("template '{}', line {}: {}: {}", name, line, what, message);
}

}  // namespace

TemplateError::TemplateError(ErrorKind kind, std::string message, std::string template_name, int line)
    : hearth::Error(located(kind, message, template_name, line)), kind_(kind), message_(std::move(message)), line_(line) {}

Template::Template(std::string_view source, std::string name) : name_(std::move(name)) {
  body_ = std::make_shared<const Body>(parse_template(source, name_));
}

std::string Template::render(const Dict& variables, const RenderOptions& options) const {
  auto globals = std::make_shared<Scope>();
  globals->vars = variables;
  // Top-level {% set %} goes to a scope of its own so it never alters the
  // caller's variables.
  auto top = std::make_shared<Scope>();
  top->parent = globals;
  Interpreter interpreter(name_, options, top);
  std::string out;
  interpreter.render(*body_, out);
  return out;
}

}  // namespace hearth::chat::jinja

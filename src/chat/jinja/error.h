// Template errors. A template can fail at parse time (syntax), while
// rendering (Python-style runtime errors such as TypeError or UndefinedError),
// by calling raise_exception(msg), or by crossing a resource limit.
#pragma once

#include <string>

#include "core/error.h"

namespace hearth::chat::jinja {

enum class ErrorKind {
  Syntax,     // TemplateSyntaxError
  Runtime,    // TypeError, UndefinedError, SecurityError, ... while rendering
  Raised,     // the template called raise_exception(msg)
  Limit,      // output size, iterations, recursion depth or time exceeded
};

class TemplateError : public hearth::Error {
 public:
  // what() is the message alone for raise_exception (the template author's
  // text, verbatim), and "message (template NAME, line N)" otherwise.
  TemplateError(ErrorKind kind, std::string message, std::string template_name, int line);

  ErrorKind kind() const { return kind_; }
  // The bare message, without the location: for raise_exception exactly the
  // string the template passed.
  const std::string& message() const { return message_; }
  int line() const { return line_; }

 private:
  ErrorKind kind_;
  std::string message_;
  int line_;
};

// Thrown inside the interpreter before the location is known; the interpreter
// adds template name and line and rethrows it as TemplateError.
struct RuntimeFailure {
  ErrorKind kind;
  std::string message;
};

[[noreturn]] inline void runtime_fail(std::string message) {
  throw RuntimeFailure{ErrorKind::Runtime, std::move(message)};
}

}  // namespace hearth::chat::jinja

// A Jinja2-compatible template engine that renders chat templates the way
// Hugging Face transformers does: ImmutableSandboxedEnvironment with
// trim_blocks and lstrip_blocks, loop controls, {% generation %}, and the
// globals raise_exception and strftime_now. No Python involved.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chat/jinja/error.h"
#include "chat/jinja/value.h"

namespace hearth::chat::jinja {

struct Stmt;

// A wall-clock reading for strftime_now (naive local time).
struct DateTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
};

// Runaway templates (infinite loops, exponential recursion, huge strings)
// become ErrorKind::Limit errors instead of hanging the server.
struct RenderLimits {
  size_t max_output_bytes = size_t(32) << 20;
  uint64_t max_steps = 20'000'000;  // loop iterations + macro calls + statements
  int max_call_depth = 256;         // nested macro calls
  // Native stack the renderer may use: deep nesting fails cleanly instead of
  // overflowing the thread's stack.
  size_t max_stack_bytes = size_t(1) << 20;
  std::chrono::milliseconds max_time{500};
};

struct RenderOptions {
  RenderLimits limits;
  // Clock for strftime_now; unset means the system's local time.
  std::function<DateTime()> clock;
};

class Template {
 public:
  // Parses `source`; throws TemplateError (Syntax) with `name` and line.
  explicit Template(std::string_view source, std::string name = "template");

  // Renders with `variables` as the template's globals (messages, tools, ...).
  // Throws TemplateError on a runtime error, raise_exception or a limit.
  std::string render(const Dict& variables, const RenderOptions& options = {}) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

// Python's datetime.strftime for the C/English locale.
std::string format_time(const DateTime& t, std::string_view format);

}  // namespace hearth::chat::jinja

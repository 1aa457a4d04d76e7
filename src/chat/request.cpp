#include "chat/request.h"

#include "core/error.h"

namespace hearth::chat {

TemplateInputs template_inputs_from_request(const OrderedJson& body, const ChatTemplate& chat_template) {
  if (!body.is_object()) fail("the request body must be a JSON object");
  if (!body.contains("messages")) fail("the request has no \"messages\"");
  NormalizeOptions options;
  options.developer_as_system = !chat_template.capabilities().developer_role;
  TemplateInputs inputs;
  inputs.messages = normalize_messages(body["messages"], options);
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) fail("\"tools\" must be a list");
    if (!body["tools"].empty()) inputs.tools = body["tools"];
  }
  inputs.add_generation_prompt = true;
  if (body.contains("chat_template_kwargs") && !body["chat_template_kwargs"].is_null()) {
    const auto& kwargs = body["chat_template_kwargs"];
    if (!kwargs.is_object()) fail("\"chat_template_kwargs\" must be an object");
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) inputs.extra_variables.emplace_back(it.key(), it.value());
  }
  if (body.contains("reasoning_effort") && body["reasoning_effort"].is_string())
    inputs.extra_variables.emplace_back("reasoning_effort", body["reasoning_effort"]);
  return inputs;
}

}  // namespace hearth::chat

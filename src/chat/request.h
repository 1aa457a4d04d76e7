// From an OpenAI-style /v1/chat/completions request body to what the
// template is rendered with, the way chat servers prepare it.
#pragma once

#include "chat/chat_template.h"
#include "chat/messages.h"

namespace hearth::chat {

// Reads "messages" (normalized: string tool-call arguments parsed, null
// content on tool-call turns made "", developer mapped to system unless the
// template handles it), "tools" (an empty list counts as none),
// "chat_template_kwargs" (extra template variables such as enable_thinking)
// and "reasoning_effort". add_generation_prompt is true: the model replies.
// Throws hearth::Error for a malformed body; the message names the field.
TemplateInputs template_inputs_from_request(const OrderedJson& body, const ChatTemplate& chat_template);

}  // namespace hearth::chat

// Anthropic's Messages API: POST /v1/messages (streamed as named SSE events
// or not) and POST /v1/messages/count_tokens. Errors are Anthropic's
// {"type": "error", "error": {...}}; unknown fields are ignored.
#include <httplib.h>

#include "server/anthropic_api.h"
#include "server/generation_io.h"
#include "server/http_server.h"

namespace hearth::server {
namespace {

// Runs a handler, answering errors in Anthropic's form.
template <typename Fn>
auto anthropic_handler(Server& server, Fn fn) {
  return [&server, fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(server, req, res);
    } catch (const ApiError& e) {
      res.status = e.status;
      res.set_content(dump_json(anthropic_error(e.status, e.what())), "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(dump_json(anthropic_error(500, e.what())), "application/json");
    }
  };
}

std::string model_field(const json& body) {
  if (!body.contains("model") || !body["model"].is_string()) bad_request("model", "'model' is required (a string)");
  return body["model"].get<std::string>();
}

json usage_json(const Usage& u) {
  return {{"input_tokens", u.prompt_tokens - u.cached_tokens},
          {"output_tokens", u.completion_tokens},
          {"cache_read_input_tokens", u.cached_tokens},
          {"cache_creation_input_tokens", 0}};
}

void messages(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const ModelLease lease = server.resolve(model_field(body));
  ServedModel& model = *lease;
  if (!body.contains("max_tokens") || !body["max_tokens"].is_number_integer() || body["max_tokens"].get<int64_t>() < 1)
    bad_request("max_tokens", "'max_tokens' is required: a positive integer");
  PreparedChat prepared = prepare_chat(model, anthropic_chat_setup(body));
  prepared.params.max_tokens = body["max_tokens"].get<int64_t>();
  prepared.params.sampling = read_sampling(model, body);
  prepared.params.stop = read_stop(body, "stop_sequences");
  const bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();

  const std::string id = random_id("msg_");
  const std::string model_id = model.id();
  const int64_t prompt_tokens = int64_t(prepared.params.prompt.size());
  auto assembler = std::make_shared<OutputAssembler>(prepared.parser, prepared.tool_mode, random_id("toolu_") + "_");
  auto state = std::make_shared<StreamState>();
  state->lease = lease;
  state->generation = submit_or_503(model, std::move(prepared.params));

  if (!stream) {
    const GenerationChunk last =
        collect(*state->generation, ClientWatch(req), [&](const GenerationChunk& c) { assembler->feed(c.text); });
    if (generation_failed(last)) throw_generation_error(last);
    assembler->finish();
    const chat::ParsedOutput& out = assembler->result();
    const json message = {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model_id},
                          {"content", anthropic_content(out)},
                          {"stop_reason", anthropic_stop_reason(last.finish, !out.tool_calls.empty())},
                          {"stop_sequence", nullptr}, {"usage", usage_json(state->generation->usage())}};
    res.set_content(dump_json(message), "application/json");
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  auto blocks = std::make_shared<AnthropicBlockStream>();
  res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
    const auto send = [&](const SseEvents& events) {
      for (const auto& [name, data] : events)
        if (!write_sse(sink, data, name)) return false;
      return true;
    };
    Usage start_usage;
    start_usage.prompt_tokens = prompt_tokens;
    const json start = {{"type", "message_start"},
                        {"message", {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model_id},
                                     {"content", json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                                     {"usage", usage_json(start_usage)}}}};
    if (!write_sse(sink, start, "message_start")) return state->generation->cancel(), false;
    for (;;) {
      GenerationChunk c = state->generation->take(std::chrono::milliseconds(200));
      if (!sink.is_writable()) return state->generation->cancel(), false;
      SseEvents events;
      blocks->add(assembler->feed(c.text), events);
      if (!send(events)) return state->generation->cancel(), false;
      // While output is held back, a comment still probes the connection.
      if (events.empty() && !c.done && !sink.write(":\n\n", 2)) return state->generation->cancel(), false;
      if (!c.done) continue;
      if (generation_failed(c)) {
        write_sse(sink, anthropic_error(500, "generation failed: " + c.error), "error");
        sink.done();
        return true;
      }
      events.clear();
      blocks->add(assembler->finish(), events);
      blocks->close(events);
      const Usage u = state->generation->usage();
      events.emplace_back("message_delta",
                          json{{"type", "message_delta"},
                               {"delta", {{"stop_reason", anthropic_stop_reason(c.finish, !assembler->result().tool_calls.empty())},
                                          {"stop_sequence", nullptr}}},
                               {"usage", usage_json(u)}});
      events.emplace_back("message_stop", json{{"type", "message_stop"}});
      send(events);
      sink.done();
      return true;
    }
  }, [state](bool) { state->generation->cancel(); });
}

void count_tokens(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const ModelLease lease = server.resolve(model_field(body));
  ServedModel& model = *lease;
  const PreparedChat prepared = prepare_chat(model, anthropic_chat_setup(body));
  res.set_content(dump_json(json{{"input_tokens", prepared.params.prompt.size()}}), "application/json");
}

}  // namespace

void add_anthropic_routes(httplib::Server& http, Server& server) {
  http.Post("/v1/messages", anthropic_handler(server, messages));
  http.Post("/v1/messages/count_tokens", anthropic_handler(server, count_tokens));
}

}  // namespace hearth::server

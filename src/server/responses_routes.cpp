// OpenAI's Responses API: POST /v1/responses (streamed as named SSE events
// or not), GET and DELETE /v1/responses/{id}. Stored responses (store: true,
// the default) are kept in memory for previous_response_id, a bounded LRU.
#include <ctime>

#include <httplib.h>

#include "server/generation_io.h"
#include "server/http_server.h"
#include "server/responses_api.h"

namespace hearth::server {
namespace {

constexpr size_t kStoredResponses = 512;
constexpr size_t kStoredBytes = size_t(256) << 20;

json usage_json(const Usage& u) {
  return {{"input_tokens", u.prompt_tokens},
          {"input_tokens_details", {{"cached_tokens", u.cached_tokens}}},
          {"output_tokens", u.completion_tokens},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

bool flag(const json& body, const char* field, bool fallback) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_boolean()) bad_request(field, "'{}' must be true or false", field);
  return body[field].get<bool>();
}

void create_response(Server& server, ResponseStore& store, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (body.contains("model") && !body["model"].is_string()) bad_request("model", "'model' must be a string");
  const ModelLease lease = server.resolve(body.value("model", ""));
  ServedModel& model = *lease;
  ordered_json history = ordered_json::array();
  std::string previous_id;
  if (body.contains("previous_response_id") && !body["previous_response_id"].is_null()) {
    if (!body["previous_response_id"].is_string()) bad_request("previous_response_id", "'previous_response_id' must be a string");
    previous_id = body["previous_response_id"].get<std::string>();
    auto stored = store.conversation(previous_id);
    if (!stored)
      throw ApiError(404, fmt::format("Previous response with id '{}' not found (responses are kept in memory, the most "
                                      "recent {} of them, and only with store: true).", previous_id, kStoredResponses),
                     "invalid_request_error", "previous_response_id", "previous_response_not_found");
    history = std::move(*stored);
  }
  ChatSetup setup = responses_chat_setup(body, history);
  const size_t first_new = body.contains("instructions") && body["instructions"].is_string() &&
                                   !body["instructions"].get<std::string>().empty() ? 1 : 0;
  ordered_json conversation(setup.messages.begin() + std::ptrdiff_t(first_new), setup.messages.end());
  PreparedChat prepared = prepare_chat(model, setup);
  prepared.params.sampling = read_sampling(model, body);
  if (body.contains("max_output_tokens") && !body["max_output_tokens"].is_null()) {
    if (!body["max_output_tokens"].is_number_integer() || body["max_output_tokens"].get<int64_t>() < 1)
      bad_request("max_output_tokens", "'max_output_tokens' must be a positive integer");
    prepared.params.max_tokens = body["max_output_tokens"].get<int64_t>();
  }
  const bool stream = flag(body, "stream", false);
  const bool keep = flag(body, "store", true);

  // The response object, echoing the request's settings as OpenAI does.
  json response = {{"id", random_id("resp_")}, {"object", "response"}, {"created_at", int64_t(std::time(nullptr))},
                   {"status", "in_progress"}, {"error", nullptr}, {"incomplete_details", nullptr},
                   {"instructions", body.value("instructions", json())}, {"max_output_tokens", body.value("max_output_tokens", json())},
                   {"model", model.id()}, {"output", json::array()}, {"parallel_tool_calls", body.value("parallel_tool_calls", true)},
                   {"previous_response_id", previous_id.empty() ? json() : json(previous_id)},
                   {"reasoning", body.value("reasoning", json{{"effort", nullptr}, {"summary", nullptr}})},
                   {"store", keep}, {"temperature", body.value("temperature", json(1.0))},
                   {"text", body.value("text", json{{"format", {{"type", "text"}}}})},
                   {"tool_choice", body.value("tool_choice", json("auto"))}, {"tools", body.value("tools", json::array())},
                   {"top_p", body.value("top_p", json(1.0))}, {"truncation", "disabled"}, {"usage", nullptr},
                   {"metadata", body.value("metadata", json::object())}};

  auto assembler = std::make_shared<OutputAssembler>(prepared.parser, prepared.tool_mode, random_id("call_") + "_");
  auto output = std::make_shared<ResponsesOutput>();
  auto state = std::make_shared<StreamState>();
  state->lease = lease;
  state->generation = submit_or_503(model, std::move(prepared.params));

  // The finished response; stores it with the conversation it continues.
  const auto complete = [&store, keep, conversation, state, assembler, output](json r, const GenerationChunk& last) {
    r["output"] = output->items();
    r["usage"] = usage_json(state->generation->usage());
    if (last.finish == FinishReason::Length) {
      r["status"] = "incomplete";
      r["incomplete_details"] = {{"reason", "max_output_tokens"}};
    } else {
      r["status"] = "completed";
    }
    if (keep) {
      ordered_json reply = ordered_json(openai_message(assembler->result()));
      if (reply["content"].is_null()) reply["content"] = "";
      ordered_json turns = conversation;
      turns.push_back(std::move(reply));
      store.put(r["id"].get<std::string>(), std::move(turns), r);
    }
    return r;
  };

  if (!stream) {
    const GenerationChunk last =
        collect(*state->generation, ClientWatch(req), [&](const GenerationChunk& c) { assembler->feed(c.text); });
    if (generation_failed(last)) throw_generation_error(last);
    std::vector<ResponsesOutput::Event> ignored;
    chat::OutputDelta all;
    assembler->finish();
    all.content = assembler->result().content;
    all.reasoning = assembler->result().reasoning;
    all.tool_calls = assembler->result().tool_calls;
    output->add(all, ignored);
    output->close(ignored);
    res.set_content(dump_json(complete(response, last)), "application/json");
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  auto sequence = std::make_shared<int64_t>(0);
  res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) mutable {
    const auto send = [&](const std::string& type, json data) {
      data["type"] = type;
      data["sequence_number"] = (*sequence)++;
      return write_sse(sink, data, type);
    };
    const auto send_all = [&](const std::vector<ResponsesOutput::Event>& events) {
      for (const auto& e : events)
        if (!send(e.type, e.data)) return false;
      return true;
    };
    if (!send("response.created", {{"response", response}}) || !send("response.in_progress", {{"response", response}}))
      return state->generation->cancel(), false;
    for (;;) {
      GenerationChunk c = state->generation->take(std::chrono::milliseconds(200));
      if (!sink.is_writable()) return state->generation->cancel(), false;
      std::vector<ResponsesOutput::Event> events;
      output->add(assembler->feed(c.text), events);
      if (!send_all(events)) return state->generation->cancel(), false;
      if (events.empty() && !c.done && !sink.write(":\n\n", 2)) return state->generation->cancel(), false;
      if (!c.done) continue;
      if (generation_failed(c)) {
        json failed = response;
        failed["status"] = "failed";
        failed["error"] = {{"code", "server_error"}, {"message", "generation failed: " + c.error}};
        send("response.failed", {{"response", failed}});
        sink.done();
        return true;
      }
      events.clear();
      output->add(assembler->finish(), events);
      output->close(events);
      send_all(events);
      const json done = complete(response, c);
      send(done["status"] == "completed" ? "response.completed" : "response.incomplete", {{"response", done}});
      sink.done();
      return true;
    }
  }, [state](bool) { state->generation->cancel(); });
}

}  // namespace

void add_responses_routes(httplib::Server& http, Server& server) {
  auto store = std::make_shared<ResponseStore>(kStoredResponses, kStoredBytes);
  const auto create = [&server, store](const httplib::Request& req, httplib::Response& res) {
    create_response(server, *store, req, res);
  };
  http.Post("/v1/responses", create);
  http.Post("/responses", create);
  http.Get(R"(/v1/responses/([^/]+))", [store](const httplib::Request& req, httplib::Response& res) {
    const auto r = store->response(req.matches[1]);
    if (!r) throw ApiError(404, fmt::format("No response with id '{}' is stored.", std::string(req.matches[1])),
                           "invalid_request_error", "response_id", "not_found");
    res.set_content(dump_json(*r), "application/json");
  });
  http.Delete(R"(/v1/responses/([^/]+))", [store](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (!store->erase(id))
      throw ApiError(404, fmt::format("No response with id '{}' is stored.", id), "invalid_request_error", "response_id", "not_found");
    res.set_content(dump_json(json{{"id", id}, {"object", "response.deleted"}, {"deleted", true}}), "application/json");
  });
}

}  // namespace hearth::server

// OpenAI's API: /v1/chat/completions and /v1/completions, streamed over SSE
// or not. Unknown request fields are ignored, as OpenAI-compatible servers do.
#include <chrono>
#include <ctime>

#include <httplib.h>

#include "server/chat_request.h"
#include "server/client_watch.h"
#include "server/generation_io.h"
#include "server/http_server.h"

namespace hearth::server {
namespace {

std::string string_field(const json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return {};
  if (!body[field].is_string()) bad_request(field, "'{}' must be a string", field);
  return body[field].get<std::string>();
}

bool bool_field(const json& body, const char* field, bool fallback) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_boolean()) bad_request(field, "'{}' must be true or false", field);
  return body[field].get<bool>();
}

// stream_options.include_usage: a boolean when present.
bool include_usage_field(const json& body) {
  if (!body.contains("stream_options") || body["stream_options"].is_null()) return false;
  const json& options = body["stream_options"];
  if (!options.is_object()) bad_request("stream_options", "'stream_options' must be an object");
  if (!options.contains("include_usage") || options["include_usage"].is_null()) return false;
  if (!options["include_usage"].is_boolean())
    bad_request("stream_options.include_usage", "'stream_options.include_usage' must be true or false");
  return options["include_usage"].get<bool>();
}

int64_t max_tokens_field(const json& body, int64_t fallback) {
  for (const char* field : {"max_completion_tokens", "max_tokens"}) {
    if (!body.contains(field) || body[field].is_null()) continue;
    if (!body[field].is_number_integer() || body[field].get<int64_t>() < 1)
      bad_request(field, "'{}' must be a positive integer", field);
    return body[field].get<int64_t>();
  }
  return fallback;
}

// Generation options every OpenAI endpoint shares.
void read_common(const ServedModel& model, const json& body, GenerationParams& params) {
  params.sampling = read_sampling(model, body);
  params.stop = read_stop(body, "stop");
  if (body.contains("n") && !body["n"].is_null() && body["n"] != 1) bad_request("n", "only n=1 is supported");
  const bool logprobs = bool_field(body, "logprobs", false);
  if (body.contains("top_logprobs") && !body["top_logprobs"].is_null()) {
    const json& t = body["top_logprobs"];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > 20)
      bad_request("top_logprobs", "'top_logprobs' must be an integer from 0 to 20");
    if (!logprobs) bad_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    params.top_logprobs = t.get<int>();
  } else if (logprobs) {
    params.top_logprobs = 0;
  }
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

json logprobs_json(const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& lp : lps) {
    json top = json::array();
    for (const auto& [token, logprob] : lp.top) top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}});
    content.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

const char* finish_name(FinishReason reason, bool tool_calls) {
  if (reason == FinishReason::Length) return "length";
  return tool_calls ? "tool_calls" : "stop";
}

void chat_completions(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const ModelLease lease = server.resolve(string_field(body, "model"));
  ServedModel& model = *lease;
  if (!body.contains("messages")) bad_request("messages", "'messages' is required");
  ChatSetup setup;
  setup.messages = ordered_json(body["messages"]);
  if (body.contains("tools") && !body["tools"].is_null()) setup.tools = ordered_json(body["tools"]);
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) setup.tool_choice = body["tool_choice"];
  if (body.contains("response_format") && !body["response_format"].is_null()) {
    const json& rf = body["response_format"];
    const std::string type = rf.is_object() ? rf.value("type", "") : "";
    if (type == "json_object") {
      setup.format_grammar = grammar_for_any_json_object();
    } else if (type == "json_schema") {
      if (!rf.contains("json_schema") || !rf["json_schema"].is_object() || !rf["json_schema"].contains("schema"))
        bad_request("response_format", "response_format json_schema needs {{\"json_schema\": {{\"name\": ..., \"schema\": {{...}}}}}}");
      setup.format_grammar = grammar_for_schema(rf["json_schema"]["schema"], "response_format");
    } else if (type != "text") {
      bad_request("response_format", "response_format type must be 'text', 'json_object' or 'json_schema'");
    }
  }
  if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object())
    for (const auto& [key, value] : body["chat_template_kwargs"].items()) setup.template_variables.emplace_back(key, value);
  if (body.contains("enable_thinking") && body["enable_thinking"].is_boolean())
    setup.template_variables.emplace_back("enable_thinking", body["enable_thinking"].get<bool>());

  PreparedChat prepared = prepare_chat(model, setup);
  read_common(model, body, prepared.params);
  prepared.params.max_tokens = max_tokens_field(body, preset_max_tokens(model, -1));
  const bool stream = bool_field(body, "stream", false);
  const bool include_usage = stream && include_usage_field(body);
  const bool want_logprobs = prepared.params.top_logprobs >= 0;

  const std::string id = random_id("chatcmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  const std::string model_id = model.id();
  auto assembler = std::make_shared<OutputAssembler>(prepared.parser, prepared.tool_mode, random_id("call_").substr(0, 21) + "_");
  auto state = std::make_shared<StreamState>();
  state->lease = lease;
  state->generation = submit_or_503(model, std::move(prepared.params));

  if (!stream) {
    std::vector<TokenLogprob> logprobs;
    const GenerationChunk last = collect(*state->generation, ClientWatch(req), [&](const GenerationChunk& c) {
      assembler->feed(c.text);
      for (const auto& lp : c.logprobs) logprobs.push_back(lp);
    });
    if (last.finish == FinishReason::Error || last.finish == FinishReason::Cancelled) throw_generation_error(last);
    assembler->finish();
    const chat::ParsedOutput& out = assembler->result();
    json choice = {{"index", 0}, {"message", openai_message(out)}, {"logprobs", nullptr},
                   {"finish_reason", finish_name(last.finish, !out.tool_calls.empty())}};
    if (want_logprobs) choice["logprobs"] = logprobs_json(logprobs);
    const json response = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model_id},
                           {"system_fingerprint", "hearth"}, {"choices", json::array({choice})},
                           {"usage", usage_json(state->generation->usage())}};
    res.set_content(dump_json(response), "application/json");
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
    const auto chunk_event = [&](const json& delta, const json& finish, const json& logprobs) {
      return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_id},
                  {"system_fingerprint", "hearth"},
                  {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish}}})}};
    };
    size_t calls_sent = 0;
    const auto delta_events = [&](const chat::OutputDelta& d, const json& logprobs) {
      std::vector<json> events;
      if (!d.reasoning.empty())
        events.push_back(chunk_event(openai_reasoning_delta(d.reasoning), nullptr, nullptr));
      if (!d.content.empty() || !logprobs.is_null()) events.push_back(chunk_event({{"content", d.content}}, nullptr, logprobs));
      for (const auto& call : d.tool_calls)
        events.push_back(chunk_event({{"tool_calls", json::array({openai_tool_call(call, calls_sent++, true)})}}, nullptr, nullptr));
      return events;
    };
    if (!write_sse(sink, chunk_event({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr))) return false;
    for (;;) {
      GenerationChunk c = state->generation->take(std::chrono::milliseconds(200));
      if (!sink.is_writable()) {
        state->generation->cancel();
        return false;
      }
      const json logprobs = want_logprobs && !c.logprobs.empty() ? logprobs_json(c.logprobs) : json(nullptr);
      const std::vector<json> events = delta_events(assembler->feed(c.text), logprobs);
      for (const json& e : events)
        if (!write_sse(sink, e)) return state->generation->cancel(), false;
      // While output is held back (a tool call being built, a possible
      // marker), an SSE comment still probes the connection, so a client
      // that left is noticed within a token or two.
      if (events.empty() && !c.done && !sink.write(":\n\n", 2)) return state->generation->cancel(), false;
      if (!c.done) continue;
      if (c.finish == FinishReason::Error || c.finish == FinishReason::Cancelled) {
        write_sse(sink, json{{"error", {{"message", "generation failed: " + c.error}, {"type", "server_error"}}}});
        sink.done();
        return true;
      }
      for (const json& e : delta_events(assembler->finish(), nullptr)) write_sse(sink, e);
      write_sse(sink, chunk_event(json::object(), finish_name(c.finish, !assembler->result().tool_calls.empty()), nullptr));
      if (include_usage) {
        write_sse(sink, json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_id},
                             {"choices", json::array()}, {"usage", usage_json(state->generation->usage())}});
      }
      const std::string done = "data: [DONE]\n\n";
      sink.write(done.data(), done.size());
      sink.done();
      return true;
    }
  }, [state](bool) { state->generation->cancel(); });
}

void completions(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const ModelLease lease = server.resolve(string_field(body, "model"));
  ServedModel& model = *lease;
  if (!body.contains("prompt")) bad_request("prompt", "'prompt' is required");
  const json& p = body["prompt"];
  GenerationParams params;
  if (p.is_string()) {
    params.prompt = prepare_raw_prompt(model, p.get<std::string>(), "prompt");
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    params.prompt = prepare_raw_prompt(model, p[0].get<std::string>(), "prompt");
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    for (const json& t : p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= model.tokenizer().n_vocab())
        bad_request("prompt", "'prompt' token ids must be integers from 0 to {}", model.tokenizer().n_vocab() - 1);
      params.prompt.push_back(t.get<int32_t>());
    }
    check_context(model, params.prompt.size());
  } else {
    bad_request("prompt", "'prompt' must be a string, a list of one string, or a list of token ids");
  }
  read_common(model, body, params);
  params.max_tokens = max_tokens_field(body, 16);  // OpenAI's default for completions
  const bool stream = bool_field(body, "stream", false);
  const bool include_usage = stream && include_usage_field(body);
  const std::string id = random_id("cmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  const std::string model_id = model.id();
  auto state = std::make_shared<StreamState>();
  state->lease = lease;
  state->generation = submit_or_503(model, std::move(params));
  const auto object = [=](const std::string& text, const json& finish) {
    return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model_id},
                {"choices", json::array({{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
  };
  if (!stream) {
    std::string text;
    const GenerationChunk last = collect(*state->generation, ClientWatch(req), [&](const GenerationChunk& c) { text += c.text; });
    if (last.finish == FinishReason::Error || last.finish == FinishReason::Cancelled) throw_generation_error(last);
    json response = object(text, finish_name(last.finish, false));
    response["usage"] = usage_json(state->generation->usage());
    res.set_content(dump_json(response), "application/json");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
    for (;;) {
      GenerationChunk c = state->generation->take(std::chrono::milliseconds(200));
      if (!sink.is_writable()) return state->generation->cancel(), false;
      if (!c.text.empty() && !write_sse(sink, object(c.text, nullptr))) return state->generation->cancel(), false;
      if (!c.done) continue;
      if (c.finish == FinishReason::Error || c.finish == FinishReason::Cancelled) {
        write_sse(sink, json{{"error", {{"message", "generation failed: " + c.error}, {"type", "server_error"}}}});
      } else {
        write_sse(sink, object("", finish_name(c.finish, false)));
        if (include_usage) {
          json u = object("", nullptr);
          u["choices"] = json::array();
          u["usage"] = usage_json(state->generation->usage());
          write_sse(sink, u);
        }
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
      }
      sink.done();
      return true;
    }
  }, [state](bool) { state->generation->cancel(); });
}

}  // namespace

void add_openai_routes(httplib::Server& http, Server& server) {
  const auto chat = [&server](const httplib::Request& req, httplib::Response& res) { chat_completions(server, req, res); };
  const auto complete = [&server](const httplib::Request& req, httplib::Response& res) { completions(server, req, res); };
  http.Post("/v1/chat/completions", chat);
  http.Post("/chat/completions", chat);
  http.Post("/v1/completions", complete);
  http.Post("/completions", complete);
}

}  // namespace hearth::server

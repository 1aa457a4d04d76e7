// Ollama's API: /api/chat and /api/generate streamed as NDJSON (the default)
// or not, with `format` (json or a schema), `options` and `keep_alive` (an
// empty prompt loads or unloads the model); /api/version. The model
// management routes are in ollama_models.cpp. Errors are {"error": "..."},
// as Ollama's clients expect.
#include <chrono>
#include <ctime>
#include <functional>

#include <httplib.h>

#include "core/bounded_json.h"
#include "core/error.h"
#include "server/chat_request.h"
#include "server/client_watch.h"
#include "server/http_server.h"
#include "server/ollama_handler.h"
#include "server/request_guard.h"

namespace hearth::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string iso_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_iso() { return iso_time(std::time(nullptr)); }

int64_t nanos(Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

std::string model_name(const json& body) {
  for (const char* field : {"model", "name"})
    if (body.contains(field) && body[field].is_string()) return body[field].get<std::string>();
  bad_request("model", "'model' is required");
}

// Ollama's `options` onto the generation parameters.
void read_options(const ServedModel& model, const json& body, GenerationParams& params) {
  const json options = body.contains("options") && body["options"].is_object() ? body["options"] : json::object();
  params.sampling = read_sampling(model, options);
  params.max_tokens = preset_max_tokens(model, params.max_tokens);
  params.stop = read_stop(options, "stop");
  if (options.contains("num_predict") && !options["num_predict"].is_null()) {
    if (!options["num_predict"].is_number_integer()) bad_request("options.num_predict", "'num_predict' must be an integer");
    const int64_t n = options["num_predict"].get<int64_t>();
    params.max_tokens = n > 0 ? n : -1;  // -1 and -2: until the end or the context is full
  }
}

std::shared_ptr<const grammar::Grammar> format_grammar(const json& body) {
  if (!body.contains("format") || body["format"].is_null()) return nullptr;
  const json& f = body["format"];
  if (f.is_string()) {
    if (f == "json") return grammar_for_any_json_object();
    if (f == "") return nullptr;
    bad_request("format", "'format' must be \"json\" or a JSON Schema object");
  }
  return grammar_for_schema(f, "format");
}

// Ollama message -> OpenAI message (images are kept so they can be refused).
ordered_json to_openai_message(const json& m, size_t index) {
  if (!m.is_object()) bad_request("messages", "messages[{}] must be an object", index);
  ordered_json out = ordered_json(m);
  if (m.contains("images") && !m["images"].is_null() && !m["images"].is_array())
    bad_request("messages", "messages[{}].images must be a list of base64 strings", index);
  if (m.contains("content") && !m["content"].is_null() && !m["content"].is_string())
    bad_request("messages", "messages[{}].content must be a string", index);
  if (m.contains("images") && m["images"].is_array() && !m["images"].empty()) {
    // The images, then the text: the order llama-mtmd-cli gives them.
    ordered_json parts = ordered_json::array();
    for (size_t j = 0; j < m["images"].size(); ++j)
      if (!m["images"][j].is_string()) bad_request("messages", "messages[{}].images[{}] must be a base64 string", index, j);
    for (const json& image : m["images"]) {
      parts.push_back({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + image.get<std::string>()}}}});
    }
    parts.push_back({{"type", "text"}, {"text", m.value("content", "")}});
    out["content"] = parts;
    out.erase("images");
  }
  if (m.contains("thinking")) {
    out["reasoning_content"] = m["thinking"];
    out.erase("thinking");
  }
  if (m.contains("tool_calls") && !m["tool_calls"].is_null() && !m["tool_calls"].is_array())
    bad_request("messages", "messages[{}].tool_calls must be a list", index);
  if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
    ordered_json calls = ordered_json::array();
    size_t i = 0;
    for (const json& call : m["tool_calls"]) {
      if (!call.is_object()) bad_request("messages", "messages[{}].tool_calls[{}] must be an object", index, i);
      ordered_json c = ordered_json(call);
      if (!c.contains("type")) c["type"] = "function";
      if (!c.contains("id")) c["id"] = fmt::format("call_{}_{}", index, i);
      calls.push_back(c);
      ++i;
    }
    out["tool_calls"] = calls;
  }
  if (out.value("role", "") == "tool" && m.contains("tool_name")) out["name"] = m["tool_name"];
  return out;
}

struct Timing {
  Clock::time_point start = Clock::now();
  Clock::duration load{};  // spent loading the model for this request
  Clock::time_point first_output{};
  void saw_output() {
    if (first_output == Clock::time_point{}) first_output = Clock::now();
  }
  void add(json& j, const Usage& u) const {
    const auto end = Clock::now();
    const auto first = first_output == Clock::time_point{} ? end : first_output;
    j["total_duration"] = nanos(end - start);
    j["load_duration"] = nanos(load);
    j["prompt_eval_count"] = u.prompt_tokens - u.cached_tokens;  // evaluated, as Ollama counts it on a cache hit
    j["prompt_eval_duration"] = nanos(first - start);
    j["eval_count"] = u.completion_tokens;
    j["eval_duration"] = nanos(end - first);
  }
};

struct Pending {
  ModelLease lease;  // the model stays loaded while the answer is written
  std::shared_ptr<Generation> generation;
  ~Pending() {
    if (generation) generation->cancel();
  }
};

// A non-streamed answer: the whole generation fed to the assembler; throws
// (500) when it failed. Returns the last chunk, which carries the finish.
GenerationChunk run_to_end(Generation& generation, const ClientWatch& client, OutputAssembler& assembler,
                           Timing& timing) {
  GenerationChunk c;
  for (;;) {
    c = generation.take(std::chrono::milliseconds(100));
    if (!c.text.empty()) timing.saw_output();
    assembler.feed(c.text);
    if (c.done) break;
    if (client.gone()) generation.cancel();  // the client left
  }
  if (c.finish == FinishReason::Cancelled && c.error.empty()) throw_client_closed();
  if (c.finish == FinishReason::Error || c.finish == FinishReason::Cancelled)
    throw ApiError(500, "generation failed: " + c.error, "server_error");
  assembler.finish();
  return c;
}

bool write_line(httplib::DataSink& sink, const json& j) {
  const std::string line = dump_json(j) + "\n";
  return sink.write(line.data(), line.size());
}

std::shared_ptr<Generation> submit(ServedModel& model, GenerationParams params) {
  auto generation = model.engine().submit(std::move(params));
  if (!generation) throw ApiError(503, fmt::format("server busy: the queue of model '{}' is full; retry later", model.id()), "server_error");
  return generation;
}

json ollama_tool_calls(const std::vector<chat::ToolCall>& calls) {
  json out = json::array();
  for (const auto& c : calls) {
    json arguments = parse_bounded_json<json>(c.arguments).value;
    if (arguments.is_discarded()) arguments = json::object();
    out.push_back({{"function", {{"name", c.name}, {"arguments", arguments}}}});
  }
  return out;
}

const char* done_reason(FinishReason f) { return f == FinishReason::Length ? "length" : "stop"; }

// Streams a generation as NDJSON for /api/chat and /api/generate: an object
// per output delta (delta_object returns null when there is nothing to send),
// then the final object, or an error line when the generation fails. A client
// that leaves cancels the generation.
void stream_ndjson(httplib::Response& res, std::shared_ptr<Pending> pending, std::shared_ptr<OutputAssembler> assembler,
                   std::shared_ptr<Timing> timing, std::function<json(const chat::OutputDelta&)> delta_object,
                   std::function<json(FinishReason)> final_object) {
  res.set_chunked_content_provider("application/x-ndjson", [=](size_t, httplib::DataSink& sink) {
    const auto write_delta = [&](const chat::OutputDelta& d) {
      const json j = delta_object(d);
      return j.is_null() || write_line(sink, j);
    };
    for (;;) {
      GenerationChunk c = pending->generation->take(std::chrono::milliseconds(200));
      if (!sink.is_writable()) return pending->generation->cancel(), false;
      if (!c.text.empty()) timing->saw_output();
      if (!write_delta(assembler->feed(c.text))) return pending->generation->cancel(), false;
      if (!c.done) continue;
      if (c.finish == FinishReason::Error || c.finish == FinishReason::Cancelled) {
        write_line(sink, json{{"error", "generation failed: " + c.error}});
      } else {
        write_delta(assembler->finish());
        write_line(sink, final_object(c.finish));
      }
      sink.done();
      return true;
    }
  }, [pending](bool) { pending->generation->cancel(); });
}

json keep_alive_field(const json& body) { return body.contains("keep_alive") ? body["keep_alive"] : json(); }

// options.num_ctx: the context the request needs (0: none asked). A model
// loaded with less reloads with it (ModelRegistry::acquire).
int64_t num_ctx_field(const json& body) {
  if (!body.contains("options") || !body["options"].is_object()) return 0;
  const json& options = body["options"];
  if (!options.contains("num_ctx") || options["num_ctx"].is_null()) return 0;
  const json& n = options["num_ctx"];
  constexpr int64_t kMaxCtx = int64_t(1) << 24;
  if (!n.is_number_integer() || n.get<int64_t>() < 0 || n.get<int64_t>() > kMaxCtx)
    bad_request("options.num_ctx", "'num_ctx' must be an integer from 0 to {}", kMaxCtx);
  return n.get<int64_t>();
}

// Ollama's "load the model" request (no messages, no prompt): loads it, or
// with keep_alive 0 unloads it.
json load_or_unload(Server& server, const json& body, const char* empty_field) {
  const std::string name = model_name(body);
  const bool loaded = server.registry().preload_or_unload(name, keep_alive_field(body), num_ctx_field(body));
  json j = {{"model", name}, {"created_at", now_iso()}, {"done", true}, {"done_reason", loaded ? "load" : "unload"}};
  if (std::string(empty_field) == "message") j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  return j;
}

void chat(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (!body.contains("messages") || (body["messages"].is_array() && body["messages"].empty())) {
    res.set_content(dump_json(load_or_unload(server, body, "message")), "application/json");
    return;
  }
  const ModelLease lease = server.resolve(model_name(body), keep_alive_field(body), num_ctx_field(body));
  ServedModel& model = *lease;
  if (!body.contains("messages") || !body["messages"].is_array()) bad_request("messages", "'messages' must be an array");
  ChatSetup setup;
  for (size_t i = 0; i < body["messages"].size(); ++i) setup.messages.push_back(to_openai_message(body["messages"][i], i));
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty()) setup.tools = ordered_json(body["tools"]);
  setup.format_grammar = format_grammar(body);
  if (body.contains("think") && body["think"].is_boolean())
    setup.template_variables.emplace_back("enable_thinking", body["think"].get<bool>());
  PreparedChat prepared = prepare_chat(model, setup);
  read_options(model, body, prepared.params);
  const bool stream = !body.contains("stream") || !body["stream"].is_boolean() || body["stream"].get<bool>();
  auto assembler = std::make_shared<OutputAssembler>(prepared.parser, prepared.tool_mode, "call_");
  auto pending = std::make_shared<Pending>();
  auto timing = std::make_shared<Timing>();
  timing->load = lease.load_duration();
  pending->lease = lease;
  pending->generation = submit(model, std::move(prepared.params));
  const std::string id = model.id();

  const auto final_object = [=](FinishReason finish, const json& message) {
    json j = {{"model", id}, {"created_at", now_iso()}, {"message", message}, {"done", true}, {"done_reason", done_reason(finish)}};
    timing->add(j, pending->generation->usage());
    return j;
  };
  if (!stream) {
    const GenerationChunk c = run_to_end(*pending->generation, ClientWatch(req), *assembler, *timing);
    const chat::ParsedOutput& out = assembler->result();
    json message = {{"role", "assistant"}, {"content", out.content}};
    if (!out.reasoning.empty()) message["thinking"] = out.reasoning;
    if (!out.tool_calls.empty()) message["tool_calls"] = ollama_tool_calls(out.tool_calls);
    res.set_content(dump_json(final_object(c.finish, message)), "application/json");
    return;
  }
  stream_ndjson(res, pending, assembler, timing, [id](const chat::OutputDelta& d) {
    if (d.content.empty() && d.reasoning.empty() && d.tool_calls.empty()) return json();
    json message = {{"role", "assistant"}, {"content", d.content}};
    if (!d.reasoning.empty()) message["thinking"] = d.reasoning;
    if (!d.tool_calls.empty()) message["tool_calls"] = ollama_tool_calls(d.tool_calls);
    return json{{"model", id}, {"created_at", now_iso()}, {"message", message}, {"done", false}};
  }, [final_object](FinishReason finish) { return final_object(finish, json{{"role", "assistant"}, {"content", ""}}); });
}

void generate(Server& server, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  const std::string prompt = body.contains("prompt") && body["prompt"].is_string() ? body["prompt"].get<std::string>() : "";
  const bool has_images = body.contains("images") && body["images"].is_array() && !body["images"].empty();
  if (prompt.empty() && !has_images) {
    res.set_content(dump_json(load_or_unload(server, body, "response")), "application/json");
    return;
  }
  const ModelLease lease = server.resolve(model_name(body), keep_alive_field(body), num_ctx_field(body));
  ServedModel& model = *lease;
  if (has_images && !model.vision())
    bad_request("images", "model '{}' does not support images: send text only (or serve it with --mmproj)", model.id());
  GenerationParams params;
  const bool raw = body.contains("raw") && body["raw"].is_boolean() && body["raw"].get<bool>();
  chat::OutputParserConfig parser;
  parser.reasoning_open.clear();
  if (raw) {
    if (has_images) bad_request("images", "'images' needs the chat template: leave 'raw' off");
    params.prompt = prepare_raw_prompt(model, prompt, "prompt");
    params.grammar = format_grammar(body);
  } else {
    ChatSetup setup;
    if (body.contains("system") && body["system"].is_string())
      setup.messages.push_back({{"role", "system"}, {"content", body["system"]}});
    if (has_images) {
      // As a chat message: the images first, then the text (llama.cpp's order).
      json parts = json::array();
      for (const json& image : body["images"]) {
        if (!image.is_string()) bad_request("images", "'images' must be an array of base64 strings");
        parts.push_back({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + image.get<std::string>()}}}});
      }
      parts.push_back({{"type", "text"}, {"text", prompt}});
      setup.messages.push_back({{"role", "user"}, {"content", parts}});
    } else {
      setup.messages.push_back({{"role", "user"}, {"content", prompt}});
    }
    setup.format_grammar = format_grammar(body);
    if (body.contains("think") && body["think"].is_boolean())
      setup.template_variables.emplace_back("enable_thinking", body["think"].get<bool>());
    PreparedChat prepared = prepare_chat(model, setup);
    params = std::move(prepared.params);
    parser = prepared.parser;
    parser.format = chat::OutputFormat::Plain;
  }
  read_options(model, body, params);
  const bool stream = !body.contains("stream") || !body["stream"].is_boolean() || body["stream"].get<bool>();
  auto assembler = std::make_shared<OutputAssembler>(parser, ToolMode::Off, "call_");
  auto pending = std::make_shared<Pending>();
  auto timing = std::make_shared<Timing>();
  timing->load = lease.load_duration();
  pending->lease = lease;
  pending->generation = submit(model, std::move(params));
  const std::string id = model.id();
  const auto final_object = [=](FinishReason finish, const std::string& response, const std::string& thinking) {
    json j = {{"model", id}, {"created_at", now_iso()}, {"response", response}, {"done", true}, {"done_reason", done_reason(finish)}};
    if (!thinking.empty()) j["thinking"] = thinking;
    timing->add(j, pending->generation->usage());
    return j;
  };
  if (!stream) {
    const GenerationChunk c = run_to_end(*pending->generation, ClientWatch(req), *assembler, *timing);
    res.set_content(dump_json(final_object(c.finish, assembler->result().content, assembler->result().reasoning)), "application/json");
    return;
  }
  stream_ndjson(res, pending, assembler, timing, [id](const chat::OutputDelta& d) {
    if (d.content.empty() && d.reasoning.empty()) return json();
    json j = {{"model", id}, {"created_at", now_iso()}, {"response", d.content}, {"done", false}};
    if (!d.reasoning.empty()) j["thinking"] = d.reasoning;
    return j;
  }, [final_object](FinishReason finish) { return final_object(finish, "", ""); });
}

}  // namespace

void add_ollama_routes(httplib::Server& http, Server& server) {
  http.Post("/api/chat", ollama_handler(server, chat));
  http.Post("/api/generate", ollama_handler(server, generate));
  add_ollama_model_routes(http, server);  // tags, ps, show, pull, delete, copy (ollama_models.cpp)
  http.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump_json(json{{"version", HEARTH_VERSION}}), "application/json");
  });
  // Ollama clients probe the root for this text.
  http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("Ollama is running", "text/plain"); });
}

}  // namespace hearth::server

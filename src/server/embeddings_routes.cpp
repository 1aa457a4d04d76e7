// Embeddings: OpenAI's POST /v1/embeddings (float or base64), Ollama's
// POST /api/embed and its older POST /api/embeddings, for encoder models
// (bert, nomic-bert). Each model gets one Embedder and its own CPU backend,
// made on first use; requests to a model take turns.
#include <algorithm>
#include <chrono>

#include <httplib.h>

#include "runtime/embedding.h"
#include "server/api_error.h"
#include "server/http_server.h"

namespace hearth::server {
namespace {

using json = nlohmann::json;

// Embeddings run on the model's own embedder (ServedModel::with_embedder).
class Embedders {
 public:
  template <typename Fn>
  auto with(ServedModel& model, Fn fn) {
    if (!model.model().hparams().encoder)
      bad_request("model", "model '{}' ({}) is not an embedding model: embeddings need a bert or nomic-bert model",
                  model.id(), model.architecture());
    return model.with_embedder(fn);
  }
};

// The inputs as token lists: strings are tokenized with the model's special
// tokens ([CLS] ... [SEP]); token-id lists are used as they are.
std::vector<std::vector<int32_t>> read_inputs(const ServedModel& model, const json& input, const char* field) {
  std::vector<std::vector<int32_t>> out;
  const auto tokens_of = [&](const json& item, size_t index) {
    if (item.is_string()) return model.tokenizer().encode(item.get<std::string>(), /*add_special=*/true, /*parse_special=*/false);
    std::vector<int32_t> ids;
    for (const json& t : item) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= model.tokenizer().n_vocab())
        bad_request(field, "'{}[{}]' must be a string or token ids from 0 to {}", field, index, model.tokenizer().n_vocab() - 1);
      ids.push_back(t.get<int32_t>());
    }
    return ids;
  };
  if (input.is_string() || (input.is_array() && !input.empty() && input[0].is_number_integer())) {
    out.push_back(tokens_of(input, 0));
  } else if (input.is_array() && !input.empty()) {
    for (size_t i = 0; i < input.size(); ++i) {
      if (!input[i].is_string() && !input[i].is_array())
        bad_request(field, "'{}[{}]' must be a string or a list of token ids", field, i);
      out.push_back(tokens_of(input[i], i));
    }
  } else {
    bad_request(field, "'{}' must be a string, a list of strings, or token ids", field);
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].empty()) bad_request(field, "'{}[{}]' is empty", field, i);
  return out;
}

// Embeds every input; too long ones are cut to the model's context when
// `truncate`, else refused with both sizes.
std::vector<std::vector<float>> embed_all(Embedders& embedders, ServedModel& model,
                                          std::vector<std::vector<int32_t>>& inputs, bool truncate, const char* field) {
  return embedders.with(model, [&](runtime::Embedder& e) {
    std::vector<std::vector<float>> out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (int64_t(inputs[i].size()) > e.max_tokens()) {
        if (!truncate)
          throw ApiError(400, fmt::format("'{}[{}]' is {} tokens, more than the {} this embedding model takes", field, i,
                                          inputs[i].size(), e.max_tokens()),
                         "invalid_request_error", field, "context_length_exceeded");
        inputs[i].resize(size_t(e.max_tokens()));
      }
      out.push_back(e.embed(inputs[i]));
    }
    return out;
  });
}

std::string base64_of_floats(const std::vector<float>& v) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());  // little-endian f32, as OpenAI sends
  const size_t n = v.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t chunk = uint32_t(bytes[i]) << 16 | (i + 1 < n ? uint32_t(bytes[i + 1]) << 8 : 0) | (i + 2 < n ? bytes[i + 2] : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

void openai_embeddings(Server& server, Embedders& embedders, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (body.contains("model") && !body["model"].is_string()) bad_request("model", "'model' must be a string");
  const ModelLease lease = server.resolve(body.value("model", ""));
    ServedModel& model = *lease;
  if (!body.contains("input")) bad_request("input", "'input' is required");
  const std::string format = body.value("encoding_format", "float");
  if (format != "float" && format != "base64") bad_request("encoding_format", "'encoding_format' must be 'float' or 'base64'");
  if (body.contains("dimensions") && !body["dimensions"].is_null() &&
      (!body["dimensions"].is_number_integer() || body["dimensions"].get<int64_t>() != model.model().hparams().n_embd))
    bad_request("dimensions", "model '{}' gives {} dimensions; other sizes are not supported", model.id(),
                model.model().hparams().n_embd);
  std::vector<std::vector<int32_t>> inputs = read_inputs(model, body["input"], "input");
  int64_t tokens = 0;
  for (const auto& t : inputs) tokens += int64_t(t.size());
  const auto vectors = embed_all(embedders, model, inputs, /*truncate=*/false, "input");
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i)
    data.push_back({{"object", "embedding"}, {"index", i},
                    {"embedding", format == "base64" ? json(base64_of_floats(vectors[i])) : json(vectors[i])}});
  res.set_content(dump_json(json{{"object", "list"}, {"data", data}, {"model", model.id()},
                                 {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}),
                  "application/json");
}

template <typename Fn>
auto ollama_errors(Fn fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      res.status = e.status;
      res.set_content(dump_json(json{{"error", e.what()}}), "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(dump_json(json{{"error", e.what()}}), "application/json");
    }
  };
}

std::string ollama_model(const json& body) {
  for (const char* field : {"model", "name"})
    if (body.contains(field) && body[field].is_string()) return body[field].get<std::string>();
  bad_request("model", "'model' is required");
}

}  // namespace

void add_embeddings_routes(httplib::Server& http, Server& server) {
  auto embedders = std::make_shared<Embedders>();
  const auto openai = [&server, embedders](const httplib::Request& req, httplib::Response& res) {
    openai_embeddings(server, *embedders, req, res);
  };
  http.Post("/v1/embeddings", openai);
  http.Post("/embeddings", openai);
  http.Post("/api/embed", ollama_errors([&server, embedders](const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    const json body = parse_body(req);
    const ModelLease lease = server.resolve(ollama_model(body), body.contains("keep_alive") ? body["keep_alive"] : json());
    ServedModel& model = *lease;
    if (!body.contains("input")) bad_request("input", "'input' is required");
    std::vector<std::vector<int32_t>> inputs = read_inputs(model, body["input"], "input");
    const bool truncate = !body.contains("truncate") || !body["truncate"].is_boolean() || body["truncate"].get<bool>();
    const auto vectors = embed_all(*embedders, model, inputs, truncate, "input");
    int64_t tokens = 0;
    for (const auto& t : inputs) tokens += int64_t(t.size());
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    res.set_content(dump_json(json{{"model", model.id()}, {"embeddings", vectors}, {"total_duration", ns},
                                   {"load_duration", 0}, {"prompt_eval_count", tokens}}),
                    "application/json");
  }));
  http.Post("/api/embeddings", ollama_errors([&server, embedders](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req);
    const ModelLease lease = server.resolve(ollama_model(body), body.contains("keep_alive") ? body["keep_alive"] : json());
    ServedModel& model = *lease;
    if (!body.contains("prompt") || !body["prompt"].is_string()) bad_request("prompt", "'prompt' is required (a string)");
    std::vector<std::vector<int32_t>> inputs = read_inputs(model, body["prompt"], "prompt");
    const auto vectors = embed_all(*embedders, model, inputs, /*truncate=*/true, "prompt");
    res.set_content(dump_json(json{{"embedding", vectors[0]}}), "application/json");
  }));
}

}  // namespace hearth::server

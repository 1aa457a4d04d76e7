#include "server/generation_io.h"

#include <httplib.h>

#include "server/api_error.h"
#include "server/http_server.h"

namespace hearth::server {

std::shared_ptr<Generation> submit_or_503(ServedModel& model, GenerationParams params) {
  std::shared_ptr<Generation> generation = model.engine().submit(std::move(params));
  if (!generation)
    throw ApiError(503,
                   fmt::format("the server is busy: the request queue of model '{}' is full; retry later", model.id()),
                   "server_error", "", "queue_full");
  return generation;
}

GenerationChunk collect(Generation& generation, const ClientWatch& client,
                        const std::function<void(const GenerationChunk&)>& on_chunk) {
  for (;;) {
    GenerationChunk chunk = generation.take(std::chrono::milliseconds(100));
    on_chunk(chunk);
    if (chunk.done) return chunk;
    if (client.gone()) generation.cancel();
  }
}

bool generation_failed(const GenerationChunk& chunk) {
  return chunk.finish == FinishReason::Error || chunk.finish == FinishReason::Cancelled;
}

void throw_generation_error(const GenerationChunk& chunk) {
  if (chunk.finish == FinishReason::Cancelled && chunk.error.empty()) throw_client_closed();
  throw ApiError(500, "generation failed: " + (chunk.error.empty() ? std::string("cancelled") : chunk.error), "server_error");
}

bool write_sse(httplib::DataSink& sink, const nlohmann::json& data, const std::string& event_name) {
  std::string text;
  if (!event_name.empty()) text = "event: " + event_name + "\n";
  text += "data: " + dump_json(data) + "\n\n";
  return sink.write(text.data(), text.size());
}

}  // namespace hearth::server

// What every generating endpoint does with a Generation, whatever API it
// speaks: submit it (503 when the queue is full), drain it for a one-piece
// answer while watching the client, and keep it alive for a stream.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/client_watch.h"
#include "server/engine_loop.h"
#include "server/model_registry.h"
#include "server/served_model.h"

namespace httplib {
class DataSink;
}

namespace hearth::server {

// Shared by a streaming response and the thread that serves it; cancels the
// generation when the last holder lets go (a no-op once it finished).
struct StreamState {
  ModelLease lease;  // the model stays loaded while the answer is written
  std::shared_ptr<Generation> generation;
  ~StreamState() {
    if (generation) generation->cancel();
  }
};

// Queues the request; ApiError 503 queue_full when the model's queue is full.
std::shared_ptr<Generation> submit_or_503(ServedModel& model, GenerationParams params);

// Runs the generation to the end, feeding `on_chunk`; returns the last
// chunk. A client that leaves meanwhile cancels it.
GenerationChunk collect(Generation& generation, const ClientWatch& client,
                        const std::function<void(const GenerationChunk&)>& on_chunk);

// ApiError 500 for a generation that failed or was cancelled.
[[noreturn]] void throw_generation_error(const GenerationChunk& chunk);
bool generation_failed(const GenerationChunk& chunk);

// One server-sent event: "data: JSON", preceded by "event: NAME" when a name
// is given (Anthropic's and the Responses API's streams name every event).
bool write_sse(httplib::DataSink& sink, const nlohmann::json& data, const std::string& event_name = {});

}  // namespace hearth::server

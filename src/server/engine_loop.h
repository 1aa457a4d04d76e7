// The engine loop of one served model: a thread that runs continuous
// batching over a BatchEngine. Each step it asks the Scheduler for the
// chunks to evaluate, runs them in one forward pass, samples a token for
// every request that got logits (each with its own sampler and grammar), and
// hands text to the request's Generation, which an HTTP thread drains.
//
// Prefix reuse: the BatchEngine's KV is paged and its blocks are cached in
// a radix tree across conversations (the blocks of running requests as they
// fill, and a request's whole KV when it ends). A new request starts from the
// longest cached prefix of its prompt, whatever slot or conversation computed
// it, and only evaluates the rest; the least recently used cached blocks are
// evicted when running requests need room.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "runtime/batch_engine.h"
#include "sampling/sampler.h"
#include "server/scheduler.h"
#include "server/serve_devices.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

// An image in a prompt: its tokens are prompt[start, start + n_tokens)
// (negative prefix-cache keys from the image's content hash), their input
// rows come from `rows`.
struct PromptImage {
  int64_t start = 0;
  int64_t n_tokens = 0;
  bool see_whole_image = false;  // its tokens attend to all of it (gemma3)
  std::shared_ptr<const std::vector<float>> rows;  // [n_tokens][n_embd]
};

struct GenerationParams {
  std::vector<int32_t> prompt;
  std::vector<PromptImage> images;  // in prompt order
  int64_t max_tokens = -1;  // < 0: until end of generation or the slot's context is full
  sampling::SamplerConfig sampling;
  std::vector<std::string> stop;
  std::shared_ptr<const grammar::Grammar> grammar;  // constrains the output when set
  int top_logprobs = -1;                            // < 0: no logprobs
  bool ignore_eos = false;
};

enum class FinishReason { None, Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason reason);

struct TokenLogprob {
  std::string token;  // the token's bytes (may be partial UTF-8)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;
};

// What a consumer takes from a Generation at a time.
struct GenerationChunk {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool done = false;
  FinishReason finish = FinishReason::None;
  std::string error;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens reused from the prefix cache
  int64_t completion_tokens = 0;
};

// One request's output channel, shared by the engine thread (producer) and
// an HTTP thread (consumer).
class Generation {
 public:
  // Waits up to `timeout` for new output; returns what arrived (empty text
  // and done=false on timeout).
  GenerationChunk take(std::chrono::milliseconds timeout);
  // Stops the request; the engine frees its slot within one step.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  Usage usage() const;

 private:
  friend class EngineLoop;
  void push(std::string_view text, TokenLogprob* logprob);
  void finish(FinishReason reason, std::string error = {});

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  GenerationChunk pending_;
  Usage usage_;
  std::atomic<bool> cancelled_{false};
  std::function<void()> wake_engine_;
};

struct EngineLoopConfig {
  runtime::BatchEngineConfig batch;
  size_t max_queue = 64;
};

struct EngineStats {
  int64_t prompt_tokens_evaluated = 0;
  int64_t prompt_tokens_reused = 0;
  int64_t tokens_generated = 0;     // by finished requests
  int64_t requests_admitted = 0;
  int64_t requests_cache_hit = 0;   // admitted with part of the prompt from the prefix cache
  int64_t requests_finished = 0;    // stop or length
  int64_t requests_cancelled = 0;
  int64_t requests_failed = 0;
  int64_t steps = 0;
  int running = 0;
  size_t waiting = 0;
  int32_t kv_blocks_total = 0;      // as of the last step
  int32_t kv_blocks_used = 0;       // by running requests or the prefix cache
  int32_t kv_blocks_cached = 0;     // of those, held only by the prefix cache (evictable)
  int kv_block_size = 0;
};

class EngineLoop {
 public:
  // On the CPU, over a host backend of its own.
  EngineLoop(const model::Model& model, backend::Backend& backend, const tokenizer::Tokenizer& tokenizer,
             std::shared_ptr<const grammar::Vocabulary> vocabulary, const EngineLoopConfig& config);
  // Across devices shared with other models' engines (serve_devices.h): it
  // holds device_mutex while it builds its parts, runs a step and frees them.
  EngineLoop(const model::Model& model, std::span<const model::LayerPlacement> split, TurnMutex& device_mutex,
             const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const grammar::Vocabulary> vocabulary,
             const EngineLoopConfig& config);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Queues a request; nullptr when the queue is full. The prompt must fit the
  // slot context (the caller checks, to answer with the numbers).
  std::shared_ptr<Generation> submit(GenerationParams params);

  int64_t n_ctx_per_slot() const { return config_.batch.n_ctx_per_slot; }
  int n_slots() const { return config_.batch.n_slots; }
  int64_t n_batch() const { return config_.batch.n_batch; }
  uint64_t kv_bytes() const { return engine_->kv_bytes(); }
  EngineStats stats() const;

 private:
  struct Active;
  void run();
  void step_once();
  Scheduler::SlotOffer slot_offer(RequestId id, int slot) const;
  // Starts a request on its slot from the prefix cache (mutex_ held);
  // returns the tokens reused, or -1 after recording the failure.
  int64_t admit(Active& a, int slot, int64_t reuse);
  void sample_and_emit(Active& a, const float* logits);
  void emit_text(Active& a, bool final);
  void end(Active& a, FinishReason reason, std::string error = {});
  void release_slot(Active& a, bool keep_in_cache);
  EngineLoop(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const grammar::Vocabulary> vocabulary,
             const EngineLoopConfig& config, TurnMutex* device_mutex);
  void start();

  TurnMutex* device_mutex_ = nullptr;  // shared devices: held around every use of engine_'s device memory
  std::optional<runtime::BatchEngine> engine_;  // set in the constructor, under device_mutex_
  const tokenizer::Tokenizer& tokenizer_;
  std::shared_ptr<const grammar::Vocabulary> vocabulary_;
  EngineLoopConfig config_;

  mutable std::mutex mutex_;  // guards scheduler_, incoming_, stats_, stop_
  std::condition_variable cv_;
  Scheduler scheduler_;
  std::vector<std::unique_ptr<Active>> incoming_;
  bool stop_ = false;
  EngineStats stats_;
  RequestId next_id_ = 1;

  // Engine-thread only.
  std::unordered_map<RequestId, std::unique_ptr<Active>> active_;
  std::vector<ScheduledChunk> plan_;
  std::vector<RequestId> cancelled_ids_;
  std::vector<std::pair<RequestId, std::string>> failed_admissions_;
  std::vector<runtime::SlotInput> inputs_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace hearth::server

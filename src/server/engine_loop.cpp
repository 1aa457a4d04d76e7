#include "server/engine_loop.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace hearth::server {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
    case FinishReason::None: break;
  }
  return "";
}

GenerationChunk Generation::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return pending_.done || !pending_.text.empty() || !pending_.logprobs.empty(); });
  GenerationChunk out = std::move(pending_);
  pending_ = GenerationChunk{};
  if (out.done) pending_ = GenerationChunk{{}, {}, true, out.finish, out.error};  // done stays visible
  return out;
}

void Generation::cancel() {
  cancelled_.store(true);
  if (wake_engine_) wake_engine_();
}

Usage Generation::usage() const {
  std::lock_guard lock(mutex_);
  return usage_;
}

void Generation::push(std::string_view text, TokenLogprob* logprob) {
  {
    std::lock_guard lock(mutex_);
    pending_.text.append(text);
    if (logprob) pending_.logprobs.push_back(std::move(*logprob));
  }
  cv_.notify_all();
}

void Generation::finish(FinishReason reason, std::string error) {
  {
    std::lock_guard lock(mutex_);
    pending_.done = true;
    pending_.finish = reason;
    pending_.error = std::move(error);
  }
  cv_.notify_all();
}

// Engine-thread state of one request.
struct EngineLoop::Active {
  RequestId id = 0;
  GenerationParams params;
  std::shared_ptr<Generation> generation;
  std::vector<int32_t> sequence;  // prompt, then sampled tokens
  int64_t n_generated = 0;
  int slot = -1;
  sampling::Sampler sampler;
  std::optional<grammar::Matcher> matcher;
  std::vector<uint8_t> mask;
  tokenizer::StreamDecoder decoder;
  std::string text;      // decoded output so far
  size_t emitted = 0;    // bytes of `text` handed to the generation
  size_t longest_stop = 0;
  std::optional<TokenLogprob> pending_logprob;
  // With images: per prompt position, the input row (null for text) and
  // the last position it attends to.
  std::vector<const float*> image_rows;
  std::vector<int32_t> last_visible;

  Active(GenerationParams p, const tokenizer::Tokenizer& tok, int64_t n_vocab)
      : params(std::move(p)), sampler(params.sampling, n_vocab), decoder(tok, /*remove_special=*/true) {}
};

EngineLoop::EngineLoop(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const grammar::Vocabulary> vocabulary,
                       const EngineLoopConfig& config, TurnMutex* device_mutex)
    : device_mutex_(device_mutex),
      tokenizer_(tokenizer),
      vocabulary_(std::move(vocabulary)),
      config_(config),
      scheduler_(config.batch.n_slots, config.batch.n_batch, config.max_queue) {}

EngineLoop::EngineLoop(const model::Model& model, backend::Backend& backend, const tokenizer::Tokenizer& tokenizer,
                       std::shared_ptr<const grammar::Vocabulary> vocabulary, const EngineLoopConfig& config)
    : EngineLoop(tokenizer, std::move(vocabulary), config, nullptr) {
  engine_.emplace(model, backend, config.batch);
  start();
}

EngineLoop::EngineLoop(const model::Model& model, std::span<const model::LayerPlacement> split,
                       TurnMutex& device_mutex, const tokenizer::Tokenizer& tokenizer,
                       std::shared_ptr<const grammar::Vocabulary> vocabulary, const EngineLoopConfig& config)
    : EngineLoop(tokenizer, std::move(vocabulary), config, &device_mutex) {
  {
    std::lock_guard lock(device_mutex);
    engine_.emplace(model, split, config.batch);
  }
  start();
}

void EngineLoop::start() {
  const EngineLoopConfig& config = config_;
  plan_.reserve(size_t(config.batch.n_slots));
  inputs_.reserve(size_t(config.batch.n_slots));
  logits_.reserve(size_t(config.batch.n_slots * engine_->n_vocab()));
  // An image's tokens that attend to the whole image go in one step: a
  // chunk may not end inside one.
  scheduler_.set_chunk_fit([this](RequestId id, int64_t start, int64_t count) {
    const auto it = active_.find(id);
    if (it == active_.end()) return count;
    for (const PromptImage& img : it->second->params.images) {
      const int64_t end = img.start + img.n_tokens;
      if (img.see_whole_image && start < end && start + count > img.start && start + count < end)
        return std::max<int64_t>(0, img.start - start);
    }
    return count;
  });
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();  // not started when building the engine failed
  if (device_mutex_) {  // its device memory goes while no other engine records
    std::lock_guard lock(*device_mutex_);
    engine_.reset();
  }
  for (auto& [id, a] : active_) a->generation->finish(FinishReason::Cancelled, "the server is shutting down");
  for (auto& a : incoming_) a->generation->finish(FinishReason::Cancelled, "the server is shutting down");
}

std::shared_ptr<Generation> EngineLoop::submit(GenerationParams params) {
  if (params.prompt.empty()) fail("the prompt is empty");
  auto a = std::make_unique<Active>(std::move(params), tokenizer_, engine_->n_vocab());
  a->generation = std::make_shared<Generation>();
  a->generation->wake_engine_ = [this] { cv_.notify_all(); };
  a->sequence = a->params.prompt;
  a->sequence.reserve(size_t(config_.batch.n_ctx_per_slot));
  for (const auto& s : a->params.stop) a->longest_stop = std::max(a->longest_stop, s.size());
  if (a->params.grammar) {
    a->matcher.emplace(a->params.grammar, vocabulary_);
    a->mask.resize(size_t(engine_->n_vocab()));
  }
  a->generation->usage_.prompt_tokens = int64_t(a->params.prompt.size());
  if (!a->params.images.empty()) {
    const size_t n = a->params.prompt.size();
    a->image_rows.assign(n, nullptr);
    a->last_visible.resize(n);
    for (size_t p = 0; p < n; ++p) a->last_visible[p] = int32_t(p);
    for (const PromptImage& img : a->params.images) {
      if (img.start < 0 || img.start + img.n_tokens > int64_t(n) || !img.rows ||
          int64_t(img.rows->size()) % std::max<int64_t>(img.n_tokens, 1) != 0)
        fail("internal: an image's tokens are outside the prompt");
      const int64_t width = int64_t(img.rows->size()) / img.n_tokens;
      for (int64_t t = 0; t < img.n_tokens; ++t) {
        a->image_rows[size_t(img.start + t)] = img.rows->data() + t * width;
        if (img.see_whole_image) a->last_visible[size_t(img.start + t)] = int32_t(img.start + img.n_tokens - 1);
      }
    }
  }
  std::shared_ptr<Generation> generation = a->generation;
  {
    std::lock_guard lock(mutex_);
    a->id = next_id_++;
    if (!scheduler_.submit(a->id, int64_t(a->sequence.size()))) return nullptr;
    incoming_.push_back(std::move(a));
  }
  cv_.notify_all();
  return generation;
}

EngineStats EngineLoop::stats() const {
  std::lock_guard lock(mutex_);
  EngineStats s = stats_;
  s.running = int(scheduler_.running());
  s.waiting = scheduler_.waiting();
  return s;
}

Scheduler::SlotOffer EngineLoop::slot_offer(RequestId id, int /*slot*/) const {
  // The prefix cache is shared by every slot: any free slot reuses as much.
  const auto it = active_.find(id);
  if (it == active_.end()) return {};
  return {engine_->cached_prefix(it->second->sequence)};
}

int64_t EngineLoop::admit(Active& a, int slot, int64_t reuse) {
  try {
    a.slot = slot;
    engine_->start_from_cache(slot, a.sequence, reuse);
  } catch (const std::exception& e) {
    // An internal check failed: this request alone cannot start. Whatever
    // the slot took is given back, and the request fails after scheduling.
    try {
      engine_->release(slot, false);
    } catch (const std::exception&) {
    }
    a.slot = -1;
    fmt::print(stderr, "hearth: request {} failed to start: {}\n", a.id, e.what());
    failed_admissions_.emplace_back(a.id, e.what());
    return -1;
  }
  stats_.prompt_tokens_reused += reuse;
  stats_.requests_admitted += 1;
  stats_.requests_cache_hit += reuse > 0 ? 1 : 0;
  std::lock_guard lock(a.generation->mutex_);
  a.generation->usage_.cached_tokens = reuse;
  return reuse;
}

void EngineLoop::release_slot(Active& a, bool keep_in_cache) {
  if (a.slot < 0) return;
  const int slot = a.slot;
  a.slot = -1;
  engine_->release(slot, keep_in_cache);
}

void EngineLoop::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Timed: a cancel notifies without the lock, so a wakeup may be missed.
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        if (stop_ || !incoming_.empty()) return true;
        for (const auto& [id, a] : active_)
          if (a->generation->cancelled()) return true;
        return !scheduler_.idle();
      });
      if (stop_) return;
    }
    try {
      // Shared devices: this engine's admissions (which may copy KV rows on
      // the device) and its forward pass, while no other engine records.
      std::unique_lock<TurnMutex> device_lock;
      if (device_mutex_) device_lock = std::unique_lock(*device_mutex_);
      step_once();
    } catch (const std::exception& e) {
      // A failed forward pass leaves the slots' KV unknown: end every running request.
      std::vector<RequestId> ids;
      for (auto& [id, a] : active_) ids.push_back(id);
      for (RequestId id : ids) end(*active_[id], FinishReason::Error, e.what());
    }
  }
}

void EngineLoop::step_once() {
  {
    std::lock_guard lock(mutex_);
    for (auto& a : incoming_) active_.emplace(a->id, std::move(a));
    incoming_.clear();
    // Cancelled requests leave before the step, freeing their slots now.
    cancelled_ids_.clear();
    for (const auto& [id, a] : active_)
      if (a->generation->cancelled()) cancelled_ids_.push_back(id);
    for (RequestId id : cancelled_ids_) {
      scheduler_.remove(id);
      release_slot(*active_[id], true);
      stats_.requests_cancelled += 1;
      stats_.tokens_generated += active_[id]->n_generated;
      active_[id]->generation->finish(FinishReason::Cancelled);
      active_.erase(id);
    }
    // Each admission takes its cached prefix before the next request gets
    // an offer (see Scheduler::AdmitFn).
    failed_admissions_.clear();
    scheduler_.schedule([this](RequestId id, int slot) { return slot_offer(id, slot); }, plan_,
                        [this](RequestId id, int slot, int64_t reuse) { return admit(*active_.at(id), slot, reuse); });
    stats_.steps += plan_.empty() ? 0 : 1;
  }
  for (const auto& [id, error] : failed_admissions_)
    end(*active_.at(id), FinishReason::Error, "internal error while starting the request: " + error);
  if (plan_.empty()) return;

  inputs_.clear();
  int64_t n_logits = 0;
  for (const ScheduledChunk& chunk : plan_) {
    Active& a = *active_.at(chunk.id);
    if (a.n_generated == 0) {
      std::lock_guard lock(mutex_);
      stats_.prompt_tokens_evaluated += chunk.count;
    }
    inputs_.push_back(runtime::SlotInput{chunk.slot, std::span<const int32_t>(a.sequence).subspan(size_t(chunk.start), size_t(chunk.count)),
                                         chunk.wants_logits});
    if (!a.image_rows.empty() && chunk.start < int64_t(a.image_rows.size())) {
      inputs_.back().embeddings = a.image_rows.data() + chunk.start;
      inputs_.back().last_visible = a.last_visible.data() + chunk.start;
    }
    n_logits += chunk.wants_logits ? 1 : 0;
  }
  engine_->step(inputs_, logits_);
  int64_t row = 0;
  for (const ScheduledChunk& chunk : plan_) {
    if (!chunk.wants_logits) continue;
    Active& a = *active_.at(chunk.id);
    try {
      sample_and_emit(a, logits_.data() + row * engine_->n_vocab());
    } catch (const std::exception& e) {
      // Sampling, the grammar or decoding failed for this request: its KV is
      // sound, the others go on.
      fmt::print(stderr, "hearth: request {} failed: {}\n", chunk.id, e.what());
      if (active_.count(chunk.id)) end(a, FinishReason::Error, std::string("internal error: ") + e.what());
    }
    ++row;
  }
  std::lock_guard lock(mutex_);
  stats_.kv_blocks_total = engine_->blocks().n_blocks();
  stats_.kv_blocks_used = engine_->blocks().n_blocks() - engine_->blocks().n_free();
  stats_.kv_blocks_cached = engine_->prefix_cache().evictable_blocks();
  stats_.kv_block_size = engine_->kv_block_size();
}

void EngineLoop::sample_and_emit(Active& a, const float* logits) {
  if (a.generation->cancelled()) return end(a, FinishReason::Cancelled);
  const int64_t n_vocab = engine_->n_vocab();
  if (a.matcher) a.matcher->fill_mask(a.mask);
  const int32_t token = a.sampler.sample(logits, a.sequence, a.mask);

  if (a.params.top_logprobs >= 0) {
    float max_logit = -INFINITY;
    for (int64_t i = 0; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i] - max_logit));
    const float log_z = max_logit + float(std::log(sum));
    TokenLogprob lp;
    lp.token = tokenizer_.token_to_piece(token);
    lp.logprob = logits[token] - log_z;
    if (a.params.top_logprobs > 0) {
      std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
      std::iota(ids.begin(), ids.end(), 0);
      const size_t k = std::min<size_t>(size_t(a.params.top_logprobs), ids.size());
      std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t x, int32_t y) { return logits[x] > logits[y]; });
      for (size_t i = 0; i < k; ++i) lp.top.emplace_back(tokenizer_.token_to_piece(ids[i]), logits[ids[i]] - log_z);
    }
    a.pending_logprob = std::move(lp);
  }

  const bool eog = tokenizer_.is_eog(token) && !a.params.ignore_eos;
  if (a.matcher && !a.matcher->accept_token(token)) {
    return end(a, FinishReason::Error, "the sampled token does not fit the grammar");
  }
  if (eog) {
    a.pending_logprob.reset();  // the end token is not part of the output
    a.text += a.decoder.flush();
    emit_text(a, true);
    return end(a, FinishReason::Stop);
  }
  a.sequence.push_back(token);
  a.n_generated += 1;
  {
    std::lock_guard lock(a.generation->mutex_);
    a.generation->usage_.completion_tokens = a.n_generated;
  }
  a.text += a.decoder.push(token);
  const bool grammar_done = a.matcher && a.matcher->is_finished();
  const bool length = (a.params.max_tokens >= 0 && a.n_generated >= a.params.max_tokens) ||
                      int64_t(a.sequence.size()) >= config_.batch.n_ctx_per_slot;
  const bool final = grammar_done || length;
  // Out of tokens inside a structure: the grammar's shortest completion closes
  // it (below), so the output parses; finish_reason "length" still says it was
  // cut short. It may first finish a character the last token began, so the
  // decoder's pending bytes wait for it.
  const bool close_grammar = final && length && a.matcher && !a.matcher->is_accepting();
  if (final && !close_grammar) a.text += a.decoder.flush();
  // Stop strings: the output ends before the first one; text that may be the
  // start of one is held back until it is decided.
  if (!a.params.stop.empty()) {
    const size_t from = a.emitted > a.longest_stop ? a.emitted - a.longest_stop : 0;
    size_t cut = std::string::npos;
    for (const std::string& s : a.params.stop) {
      if (s.empty()) continue;
      const size_t at = a.text.find(s, from);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      a.text.resize(std::max(cut, a.emitted));
      emit_text(a, true);
      return end(a, FinishReason::Stop);
    }
  }
  if (final) {
    if (close_grammar) a.text += a.decoder.flush(a.matcher->shortest_completion().value_or(""));
    emit_text(a, true);
    return end(a, grammar_done && !length ? FinishReason::Stop : FinishReason::Length);
  }
  {
    std::lock_guard lock(mutex_);
    scheduler_.append_token(a.id);
  }
  emit_text(a, false);
}

void EngineLoop::emit_text(Active& a, bool final) {
  size_t safe = a.text.size();
  if (!final) {
    // Hold back a tail that could begin a stop string.
    for (const std::string& s : a.params.stop)
      for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), a.text.size()); len > 0; --len)
        if (a.text.compare(a.text.size() - len, len, s, 0, len) == 0) {
          safe = std::min(safe, a.text.size() - len);
          break;
        }
  }
  safe = std::max(safe, a.emitted);
  TokenLogprob* lp = a.pending_logprob ? &*a.pending_logprob : nullptr;
  if (safe > a.emitted || lp) a.generation->push(std::string_view(a.text).substr(a.emitted, safe - a.emitted), lp);
  a.pending_logprob.reset();
  a.emitted = safe;
}

void EngineLoop::end(Active& a, FinishReason reason, std::string error) {
  const RequestId id = a.id;
  // Its KV stays in the prefix cache, unless a failed step left it unknown.
  release_slot(a, reason != FinishReason::Error);
  a.generation->finish(reason, std::move(error));
  {
    std::lock_guard lock(mutex_);
    scheduler_.remove(id);
    stats_.tokens_generated += a.n_generated;
    if (reason == FinishReason::Cancelled) stats_.requests_cancelled += 1;
    else if (reason == FinishReason::Error) stats_.requests_failed += 1;
    else stats_.requests_finished += 1;
  }
  active_.erase(id);
}

}  // namespace hearth::server

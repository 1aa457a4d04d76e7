#include "runtime/session.h"

#include <algorithm>
#include <array>
#include <numeric>

#include "core/error.h"

namespace hearth::runtime {

int64_t Session::truncate(int64_t n) {
  n = std::clamp<int64_t>(n, 0, n_past_);
  if (sliding_rows_ < config_.n_ctx) {
    // Position p lives in ring row p % sliding_rows_, so key n - window + 1
    // (the oldest the next token sees) survives only if no position written
    // since is sliding_rows_ or more after it.
    const int64_t oldest_needed = std::max<int64_t>(0, n - model_.hparams().sliding_window + 1);
    if (n > 0 && oldest_needed < n_past_ - sliding_rows_) n = 0;
  }
  n_past_ = n;
  return n;
}

int64_t Session::sliding_rows_for(int64_t window, int64_t n_ctx, int64_t n_ubatch) {
  if (window <= 0) return n_ctx;
  return std::min(n_ctx, window + std::min(n_ubatch, n_ctx) - 1);
}

namespace {

int64_t positive_ubatch(int64_t n_ubatch) {
  if (n_ubatch <= 0) fail("--ubatch must be positive, got {}", n_ubatch);
  return n_ubatch;
}

}  // namespace

std::unique_ptr<backend::DeviceBackend> make_prepared_host_device(const model::Model& model, backend::Backend& backend,
                                                                  const SessionConfig& config, int first_layer,
                                                                  int end_layer, bool output) {
  const int64_t max_rows = std::min(positive_ubatch(config.n_ubatch), config.n_ctx);
  backend.reserve(max_rows, model.max_row_width(), config.n_ctx, model.max_head_dim());
  model.prepare_weights(backend, first_layer, end_layer, output);
  return backend::make_host_device_backend(backend);
}

namespace {

// Every layer and the output on one device.
model::LayerPlacement whole_model(const model::Model& model, backend::DeviceBackend& device) {
  return {&device, 0, model.hparams().n_layer};
}

}  // namespace

Session::Session(const model::Model& model, backend::Backend& backend, const SessionConfig& config)
    : Session(model, make_prepared_host_device(model, backend, config), {}, config) {}

Session::Session(const model::Model& model, backend::DeviceBackend& device, const SessionConfig& config)
    : Session(model, nullptr, std::span<const model::LayerPlacement>(std::array{whole_model(model, device)}), config) {}

Session::Session(const model::Model& model, std::span<const model::LayerPlacement> split, const SessionConfig& config)
    : Session(model, nullptr, split, config) {}

Session::Session(const model::Model& model, std::unique_ptr<backend::DeviceBackend> owned,
                 std::span<const model::LayerPlacement> split, const SessionConfig& config)
    : model_(model),
      owned_device_(std::move(owned)),
      config_(config),
      sliding_rows_(sliding_rows_for(model.has_sliding_layers() ? model.hparams().sliding_window : 0, config.n_ctx,
                                     positive_ubatch(config.n_ubatch))),
      parts_(model,
             owned_device_ ? std::vector{whole_model(model, *owned_device_)}
                           : std::vector<model::LayerPlacement>(split.begin(), split.end()),
             kv::KvConfig{config.n_ctx, config.type_k, config.type_v}, model.kv_rows(config.n_ctx, sliding_rows_),
             std::min(config.n_ubatch, config.n_ctx), config.flash_attn) {
  if (!config.flash_attn && (config.type_v == DType::Q8_0 || config.type_v == DType::Q4_0))
    fail("a quantized V cache ({}) needs flash attention: add --fa on", dtype_name(config.type_v));
  max_rows_ = parts_.parts.front()->workspace.max_rows;
  for (const auto& part : parts_.parts)
    part->placement.dev->reserve(max_rows_, model.max_row_width(), config.n_ctx, model.max_head_dim());
  positions_.resize(max_rows_);
  output_rows_.resize(max_rows_);
  step_logits_.resize(model.hparams().n_vocab);
  if (sliding_rows_ < config.n_ctx) {
    ring_.resize(size_t(config.n_ctx));
    for (int64_t p = 0; p < config.n_ctx; ++p) ring_[size_t(p)] = int32_t(p % sliding_rows_);
    ring_tables_.assign(size_t(max_rows_), ring_.data());
  }
}

uint64_t Session::kv_bytes() const { return parts_.kv_bytes(); }

std::vector<model::LayerPlacement> Session::placement() const { return parts_.placement(); }

KvMemory Session::kv_memory() const {
  return runtime::kv_memory(model_, config_.n_ctx, sliding_rows_, config_.type_k, config_.type_v);
}

void Session::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("nothing to evaluate: the prompt is empty");
  if (n_past_ + n > config_.n_ctx)
    fail("{} tokens do not fit in the context: {} already used of {} (the prompt needs a context of at least {}; "
         "raise --ctx)",
         n, n_past_, config_.n_ctx, n_past_ + n);
  const int64_t n_vocab = model_.hparams().n_vocab;
  logits.resize(size_t(all_logits ? n : 1) * n_vocab);
  for (int64_t start = 0; start < n; start += max_rows_) {
    const int64_t count = std::min(max_rows_, n - start);
    for (int64_t i = 0; i < count; ++i) positions_[i] = int32_t(n_past_ + i);
    model::Batch batch;
    batch.tokens = tokens.data() + start;
    batch.positions = positions_.data();
    batch.n = count;
    if (!ring_.empty()) {  // block size 1: the ring
      batch.swa_block_tables = ring_tables_.data();
      batch.swa_table_width = config_.n_ctx;
    }
    const bool last_chunk = start + count == n;
    if (all_logits) {
      std::iota(output_rows_.begin(), output_rows_.begin() + count, 0);
      batch.n_outputs = count;
    } else {
      output_rows_[0] = int32_t(count - 1);
      batch.n_outputs = last_chunk ? 1 : 0;
    }
    batch.output_rows = output_rows_.data();
    float* out = all_logits ? logits.data() + start * n_vocab : logits.data();
    model_.forward(parts_.contexts, batch, out);
    n_past_ += count;
  }
}

void Session::eval_embeddings(const float* rows, int64_t n, bool see_whole_span) {
  if (n <= 0) fail("nothing to evaluate: the image has no tokens");
  if (n_past_ + n > config_.n_ctx)
    fail("an image of {} tokens does not fit in the context: {} already used of {} (raise --ctx)", n, n_past_,
         config_.n_ctx);
  if (see_whole_span && n > max_rows_)
    fail("an image of {} tokens must be evaluated in one pass, but --ubatch is {} (raise --ubatch)", n,
         max_rows_);
  const int64_t E = model_.hparams().n_embd;
  // Per image, not per token: the row pointers and visibility limits.
  std::vector<const float*> row_ptrs(size_t(std::min(n, max_rows_)));
  std::vector<int32_t> last_visible(row_ptrs.size(), int32_t(n_past_ + n - 1));
  for (int64_t start = 0; start < n; start += max_rows_) {
    const int64_t count = std::min(max_rows_, n - start);
    for (int64_t i = 0; i < count; ++i) {
      positions_[i] = int32_t(n_past_ + i);
      row_ptrs[i] = rows + (start + i) * E;
    }
    model::Batch batch;
    batch.tokens = nullptr;
    batch.positions = positions_.data();
    batch.n = count;
    batch.embeddings = row_ptrs.data();
    batch.last_visible = see_whole_span ? last_visible.data() : nullptr;
    batch.output_rows = output_rows_.data();
    batch.n_outputs = 0;
    model_.forward(parts_.contexts, batch, step_logits_.data());
    n_past_ += count;
  }
}

const float* Session::decode(int32_t token) {
  if (n_past_ + 1 > config_.n_ctx)
    fail("the context is full: {} tokens of {} are used (raise --ctx)", n_past_, config_.n_ctx);
  positions_[0] = int32_t(n_past_);
  output_rows_[0] = 0;
  model::Batch batch;
  batch.tokens = &token;
  batch.positions = positions_.data();
  batch.n = 1;
  if (!ring_.empty()) {
    batch.swa_block_tables = ring_tables_.data();
    batch.swa_table_width = config_.n_ctx;
  }
  batch.output_rows = output_rows_.data();
  batch.n_outputs = 1;
  model_.forward(parts_.contexts, batch, step_logits_.data());
  n_past_ += 1;
  return step_logits_.data();
}

}  // namespace hearth::runtime

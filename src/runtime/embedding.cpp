#include "runtime/embedding.h"

#include <cmath>
#include <numeric>

#include "core/error.h"

namespace hearth::runtime {

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::None: return "none";
    case Pooling::Mean: return "mean";
    case Pooling::Cls: return "cls";
    case Pooling::Last: return "last";
  }
  return "?";
}

namespace {

int64_t checked_max_tokens(const model::Model& model, int64_t max_tokens) {
  if (!model.hparams().encoder)
    fail("architecture '{}' is not an embedding model (supported: bert, nomic-bert)", model.hparams().arch);
  const int64_t train = model.hparams().n_ctx_train;
  return std::max<int64_t>(1, train > 0 ? std::min(max_tokens, train) : max_tokens);
}

std::unique_ptr<backend::DeviceBackend> prepared_host_device(const model::Model& model, backend::Backend& backend,
                                                             int64_t max_tokens) {
  backend.reserve(max_tokens, model.max_row_width(), max_tokens, model.max_head_dim());
  model.prepare_weights(backend);
  return backend::make_host_device_backend(backend);
}

}  // namespace

Embedder::Embedder(const model::Model& model, backend::Backend& backend, int64_t max_tokens)
    : model_(model),
      max_tokens_(checked_max_tokens(model, max_tokens)),
      device_(prepared_host_device(model, backend, max_tokens_)),
      pooling_(Pooling(model.hparams().pooling)),
      weights_(*device_),
      // F32 K/V: llama.cpp keeps an encoder's K and V as f32 tensors (no cache).
      kv_(*device_, kv::KvConfig{max_tokens_, DType::F32, DType::F32}, model.kv_widths_k(), model.kv_widths_v()),
      workspace_(model.make_workspace(*device_, max_tokens_)),
      positions_(size_t(max_tokens_)),
      output_rows_(size_t(max_tokens_)),
      hidden_(size_t(max_tokens_ * model.hparams().n_embd)) {
  device_->reserve(max_tokens_, model.max_row_width(), max_tokens_, model.max_head_dim());
  std::iota(positions_.begin(), positions_.end(), 0);
  std::iota(output_rows_.begin(), output_rows_.end(), 0);
}

std::vector<float> Embedder::embed(std::span<const int32_t> tokens, bool normalize) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("nothing to embed: the text has no tokens");
  if (n > max_tokens_)
    fail("the text is {} tokens but this embedding model takes at most {} (its context); shorten it", n, max_tokens_);
  const int64_t E = n_embd();
  model::Batch batch;
  batch.tokens = tokens.data();
  batch.positions = positions_.data();
  batch.n = n;
  batch.n_kv = n;
  // Only the rows the pooling reads.
  const Pooling pooling = pooling_ == Pooling::None ? Pooling::Mean : pooling_;
  batch.output_rows = output_rows_.data() + (pooling == Pooling::Last ? n - 1 : 0);
  batch.n_outputs = pooling == Pooling::Mean ? n : 1;
  model::ForwardContext ctx{*device_, weights_, kv_, workspace_, false};
  model_.forward(ctx, batch, hidden_.data());

  std::vector<float> out(size_t(E), 0.0f);
  if (pooling == Pooling::Mean) {
    // As llama.cpp: the mean is a matmul with 1/n weights, summed in f32.
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = 0; e < E; ++e) out[size_t(e)] += hidden_[size_t(i * E + e)] / float(n);
  } else {
    std::copy_n(hidden_.begin(), E, out.begin());
  }
  if (normalize) {
    double sum = 0.0;
    for (float v : out) sum += double(v) * v;
    const float scale = sum > 0 ? float(1.0 / std::sqrt(sum)) : 0.0f;
    for (float& v : out) v *= scale;
  }
  return out;
}

}  // namespace hearth::runtime

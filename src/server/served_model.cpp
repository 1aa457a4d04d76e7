#include "server/served_model.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "chat/template_source.h"
#include "core/error.h"
#include "kv/kv_cache.h"

namespace hearth::server {

std::string model_id_from_path(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  return name;
}

std::unique_ptr<ServedModel> ServedModel::load(const ModelLoadOptions& o) {
  std::unique_ptr<ServedModel> m(new ServedModel());
  m->path_ = o.path;
  m->id_ = o.id.empty() ? model_id_from_path(o.path) : o.id;
  std::error_code ec;
  m->file_size_ = std::filesystem::file_size(o.path, ec);
  const auto mtime = std::filesystem::last_write_time(o.path, ec);
  m->created_ = ec ? std::time(nullptr)
                   : std::chrono::system_clock::to_time_t(std::chrono::file_clock::to_sys(mtime));
  m->file_ = std::make_shared<const gguf::File>(gguf::File::open(o.path));
  m->model_ = model::Model::load(m->file_);
  const int threads = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  m->backend_ = backend::make_cpu_backend(threads, o.isa);
  m->tokenizer_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*m->file_));

  std::vector<std::string> warnings;
  m->template_ = std::make_unique<chat::ChatTemplate>(
      o.chat_template.empty() ? chat::select_chat_template(&m->file_->metadata(), chat::TemplateChoice{}, warnings)
                              : chat::ChatTemplate(o.chat_template, "preset"));
  for (const std::string& w : warnings) fmt::print(stderr, "{}: {}\n", m->id_, w);
  m->output_config_ = chat::output_config_for_template(m->template_->source());

  // The grammar matcher sees each token as its bytes; control tokens have
  // none (never allowed), end-of-generation ones are allowed when complete.
  const int32_t n_vocab = m->tokenizer_->n_vocab();
  std::vector<std::string> token_bytes(static_cast<size_t>(n_vocab));
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < n_vocab; ++id) {
    if (m->tokenizer_->is_eog(id)) eog.push_back(id);
    if (!m->tokenizer_->is_control(id) && !m->tokenizer_->is_eog(id)) token_bytes[size_t(id)] = m->tokenizer_->token_to_piece(id);
  }
  auto vocabulary = std::make_shared<const grammar::Vocabulary>(std::move(token_bytes), std::move(eog));

  EngineLoopConfig config;
  config.batch = batch_config(*m->model_, o);
  config.max_queue = o.max_queue;
  m->devices_ = o.devices;
  const std::vector<runtime::LayerRun> runs = layer_runs(*m->model_, o);
  const int n_layer = m->model_->hparams().n_layer;
  if (runs.empty()) {
    m->engine_ = std::make_unique<EngineLoop>(*m->model_, *m->backend_, *m->tokenizer_, std::move(vocabulary), config);
    m->placement_ = fmt::format("layers 0-{} and the output on the CPU ({})", n_layer - 1, m->backend_->name());
    if (o.devices && !o.devices->devices.empty())
      m->placement_ += fmt::format(" ({} is an encoder: the server computes its embeddings on the CPU)", m->architecture());
  } else {
    std::vector<model::LayerPlacement> split;
    for (size_t i = 0; i < runs.size(); ++i) {
      const runtime::LayerRun& run = runs[i];
      backend::DeviceBackend* dev = nullptr;
      if (run.device == runtime::kCpuDevice) {
        runtime::SessionConfig cpu;
        cpu.n_ctx = config.batch.n_ctx_per_slot;
        cpu.n_ubatch = config.batch.n_batch;
        m->cpu_part_ = runtime::make_prepared_host_device(*m->model_, *m->backend_, cpu, run.first_layer,
                                                          run.end_layer, i + 1 == runs.size());
        dev = m->cpu_part_.get();
      } else {
        dev = o.devices->devices[size_t(run.device)].get();
      }
      split.push_back({dev, run.first_layer, run.end_layer});
    }
    m->engine_ = std::make_unique<EngineLoop>(*m->model_, split, o.devices->mutex, *m->tokenizer_,
                                              std::move(vocabulary), config);
    m->placement_ = fmt::to_string(
        fmt::join(runtime::describe_layer_runs(runs, o.devices->infos(), m->backend_->name()), "\n"));
  }
  m->allow_file_urls_ = o.allow_file_urls;
  m->preset_ = o.preset;
  m->n_threads_ = threads;
  if (!o.mmproj.empty()) {
    m->vision_ = vision::VisionModel::load(std::make_shared<const gguf::File>(gguf::File::open(o.mmproj)));
    if (m->vision_->hparams().n_embd_out != m->model_->hparams().n_embd)
      fail("projector '{}' outputs {} values per token but model '{}' has width {}: they do not belong together",
           o.mmproj, m->vision_->hparams().n_embd_out, o.path, m->model_->hparams().n_embd);
    m->vision_backend_ = backend::make_cpu_backend(threads, o.isa);
  }
  return m;
}

runtime::BatchEngineConfig ServedModel::batch_config(const model::Model& model, const ModelLoadOptions& o) {
  runtime::BatchEngineConfig batch;
  const int64_t n_ctx_train = model.hparams().n_ctx_train;
  batch.n_slots = o.n_parallel;
  batch.n_ctx_per_slot = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(n_ctx_train > 0 ? n_ctx_train : 4096, 4096);
  batch.n_batch = o.n_batch;
  batch.type_k = o.type_k;
  batch.type_v = o.type_v;
  batch.flash_attn = o.flash_attn;
  if (o.cache_mb > 0) {
    // Extra blocks for the prefix cache, beyond every slot's whole context.
    const uint64_t block_bytes = kv::KvCache::bytes_for(kv::KvConfig{batch.kv_block_size, o.type_k, o.type_v},
                                                        model.kv_widths_k(), model.kv_widths_v());
    batch.n_cache_blocks = int64_t((uint64_t(o.cache_mb) << 20) / std::max<uint64_t>(block_bytes, 1));
  }
  return batch;
}

std::vector<runtime::LayerRun> ServedModel::layer_runs(const model::Model& model, const ModelLoadOptions& o) {
  if (!o.devices || o.devices->devices.empty() || model.hparams().encoder) return {};
  // --gpu-layers' default sizes the layers' KV as the engine's whole pool.
  const runtime::BatchEngineConfig batch = batch_config(model, o);
  runtime::SessionConfig sizing;
  sizing.n_ctx = int64_t(batch.n_slots) * batch.n_ctx_per_slot + batch.n_cache_blocks * batch.kv_block_size;
  sizing.n_ubatch = batch.n_batch;
  sizing.type_k = batch.type_k;
  sizing.type_v = batch.type_v;
  sizing.flash_attn = batch.flash_attn;
  return runtime::choose_layer_runs(model, sizing, o.devices->infos(), o.devices->gpu_layers, o.devices->tensor_split);
}

void ServedModel::make_embedder() const {
  embed_backend_ = backend::make_cpu_backend(n_threads_);
  embedder_ = std::make_unique<runtime::Embedder>(*model_, *embed_backend_, model_->hparams().n_ctx_train);
}

std::string ServedModel::bos_text() const {
  const int32_t bos = tokenizer_->bos();
  return bos >= 0 ? tokenizer_->token_text(bos) : std::string();
}

std::string ServedModel::eos_text() const {
  const int32_t eos = tokenizer_->eos();
  return eos >= 0 ? tokenizer_->token_text(eos) : std::string();
}

std::vector<int32_t> ServedModel::tokenize_prompt(const std::string& text) const {
  const std::string bos = bos_text();
  const bool has_bos = !bos.empty() && text.starts_with(bos);
  std::vector<int32_t> tokens = tokenizer_->encode(text, /*add_special=*/!has_bos, /*parse_special=*/true);
  return tokens;
}

}  // namespace hearth::server

namespace hearth::server {

std::shared_ptr<const std::vector<float>> ServedModel::image_embeddings(std::span<const uint8_t> bytes, uint64_t hash,
                                                                        const std::string& source) const {
  constexpr size_t kCachedImages = 16;
  if (!vision_) fail("model '{}' does not support images", id_);
  const std::lock_guard lock(vision_mutex_);
  for (auto it = image_cache_.begin(); it != image_cache_.end(); ++it) {
    if (it->first != hash) continue;
    image_cache_.splice(image_cache_.begin(), image_cache_, it);
    return image_cache_.front().second;
  }
  const vision::RgbImage image = vision::decode_image(bytes, source);
  auto rows = std::make_shared<const std::vector<float>>(vision_->encode(*vision_backend_, image).data);
  image_cache_.emplace_front(hash, rows);
  if (image_cache_.size() > kCachedImages) image_cache_.pop_back();
  return rows;
}

}  // namespace hearth::server

// One model a server offers: its file, weights, tokenizer, chat template and
// output parser settings, and the engine loop that batches its requests.
#pragma once

#include <cstdint>
#include <ctime>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "backend/backend.h"
#include "chat/chat_template.h"
#include "chat/output/output_parser.h"
#include "grammar/grammar.h"
#include "model/model.h"
#include "runtime/embedding.h"
#include "runtime/layer_split.h"
#include "server/serve_devices.h"
#include "store/preset.h"
#include "server/engine_loop.h"
#include "tokenizer/tokenizer.h"
#include "vision/vision_model.h"

namespace hearth::server {

struct ModelLoadOptions {
  std::string path;
  std::string id;              // "": the file name without .gguf
  int64_t n_ctx = 0;           // per conversation; 0: min(training context, 4096)
  int n_parallel = 4;          // conversations evaluated together
  int64_t n_batch = 512;       // tokens per step
  DType type_k = DType::F16, type_v = DType::F16;
  bool flash_attn = false;
  int n_threads = 0;           // 0: every core
  std::string isa;
  size_t max_queue = 64;
  size_t cache_mb = 0;         // KV memory for the prefix cache beyond n_ctx x n_parallel
  std::string mmproj;          // multimodal projector: the model takes images
  bool allow_file_urls = false;  // image_url may name a local file (file://)
  std::string chat_template;   // a preset's template text, replacing the GGUF's ("": the GGUF's)
  // A preset served by name: its system prompt and sampling defaults apply
  // to every request that does not set its own.
  std::optional<store::Preset> preset;
  // The GPUs the server opened (--devices), shared by its models; null or
  // none: every model on the CPU.
  std::shared_ptr<ServeDevices> devices;
};

class ServedModel {
 public:
  static std::unique_ptr<ServedModel> load(const ModelLoadOptions& options);

  // The engine a model gets with these options.
  static runtime::BatchEngineConfig batch_config(const model::Model& model, const ModelLoadOptions& options);
  // Which device runs which layers (--gpu-layers, --tensor-split over
  // options.devices, as `hearth run` places them), or none when every layer
  // stays on the CPU: no devices, or a model the server runs on the CPU
  // alone (an encoder: its embeddings have no device path here).
  static std::vector<runtime::LayerRun> layer_runs(const model::Model& model, const ModelLoadOptions& options);

  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  const std::string& architecture() const { return model_->hparams().arch; }
  uint64_t file_size() const { return file_size_; }
  std::time_t created() const { return created_; }
  const model::Model& model() const { return *model_; }
  const gguf::File& file() const { return *file_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const chat::ChatTemplate& chat_template() const { return *template_; }
  const chat::OutputParserConfig& output_config() const { return output_config_; }
  EngineLoop& engine() { return *engine_; }
  const EngineLoop& engine() const { return *engine_; }
  int64_t n_ctx() const { return engine_->n_ctx_per_slot(); }
  const std::optional<store::Preset>& preset() const { return preset_; }
  // Where its layers run, a line per range ("layers 0-7 and the output on
  // vulkan0 (llvmpipe ..., cpu)"), as `hearth run` prints it.
  const std::string& placement() const { return placement_; }

  // Runs fn with this model's embedder (made on first use, with its own CPU
  // backend); requests take turns.
  template <typename Fn>
  auto with_embedder(Fn fn) const {
    std::lock_guard lock(embed_mutex_);
    if (!embedder_) make_embedder();
    return fn(*embedder_);
  }

  // Prompt text to tokens: the tokenizer's BOS unless the text already
  // starts with it (templates often write it themselves).
  std::vector<int32_t> tokenize_prompt(const std::string& text) const;
  std::string bos_text() const;
  std::string eos_text() const;

  // Images: the projector (null for a text-only model), whether file://
  // image URLs are allowed, and an image's embeddings [n_tokens][n_embd].
  // Embeddings of recently seen images (by content hash) are kept, so a
  // conversation's next turn does not encode its image again.
  const vision::VisionModel* vision() const { return vision_.get(); }
  bool allow_file_urls() const { return allow_file_urls_; }
  std::shared_ptr<const std::vector<float>> image_embeddings(std::span<const uint8_t> bytes, uint64_t hash,
                                                             const std::string& source) const;

 private:
  ServedModel() = default;
  std::shared_ptr<ServeDevices> devices_;  // first: outlives the engine that runs on them
  std::string id_, path_, placement_;
  uint64_t file_size_ = 0;
  std::time_t created_ = 0;
  std::shared_ptr<const gguf::File> file_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<backend::DeviceBackend> cpu_part_;  // the CPU's layers of a split (over backend_), or null
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<chat::ChatTemplate> template_;
  chat::OutputParserConfig output_config_;
  std::unique_ptr<EngineLoop> engine_;
  std::unique_ptr<vision::VisionModel> vision_;
  std::unique_ptr<backend::Backend> vision_backend_;  // the encoder's own: HTTP threads encode
  bool allow_file_urls_ = false;
  std::optional<store::Preset> preset_;
  int n_threads_ = 1;
  void make_embedder() const;
  mutable std::mutex embed_mutex_;  // guards the embedder and its backend
  mutable std::unique_ptr<backend::Backend> embed_backend_;
  mutable std::unique_ptr<runtime::Embedder> embedder_;
  mutable std::mutex vision_mutex_;  // guards the encoder backend and the cache below
  mutable std::list<std::pair<uint64_t, std::shared_ptr<const std::vector<float>>>> image_cache_;  // most recent first
};

// "models/Qwen3-8B-Q4_K_M.gguf" -> "Qwen3-8B-Q4_K_M".
std::string model_id_from_path(const std::string& path);

}  // namespace hearth::server

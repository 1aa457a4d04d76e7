// One model a server offers: its file, weights, tokenizer, chat template and
// output parser settings, and the engine loop that batches its requests.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "chat/chat_template.h"
#include "chat/output/output_parser.h"
#include "grammar/grammar.h"
#include "model/model.h"
#include "server/engine_loop.h"
#include "tokenizer/tokenizer.h"

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
  std::string chat_template;   // a preset's template text, replacing the GGUF's ("": the GGUF's)
};

class ServedModel {
 public:
  static std::unique_ptr<ServedModel> load(const ModelLoadOptions& options);

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
  int64_t n_ctx() const { return engine_->n_ctx_per_slot(); }

  // Prompt text to tokens: the tokenizer's BOS unless the text already
  // starts with it (templates often write it themselves).
  std::vector<int32_t> tokenize_prompt(const std::string& text) const;
  std::string bos_text() const;
  std::string eos_text() const;

 private:
  ServedModel() = default;
  std::string id_, path_;
  uint64_t file_size_ = 0;
  std::time_t created_ = 0;
  std::shared_ptr<const gguf::File> file_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<chat::ChatTemplate> template_;
  chat::OutputParserConfig output_config_;
  std::unique_ptr<EngineLoop> engine_;
};

// "models/Qwen3-8B-Q4_K_M.gguf" -> "Qwen3-8B-Q4_K_M".
std::string model_id_from_path(const std::string& path);

}  // namespace hearth::server

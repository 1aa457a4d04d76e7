#include "cli/image_input.h"

#include <filesystem>

#include <fmt/format.h>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "core/error.h"
#include "runtime/media_prompt.h"
#include "vision/vision_model.h"

namespace hearth::cli {

namespace fs = std::filesystem;

std::string find_mmproj(const std::string& model_path, const std::string& mmproj, int64_t n_embd) {
  if (!mmproj.empty()) return mmproj;
  std::vector<std::string> fits;
  const fs::path folder = fs::absolute(model_path).parent_path();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("mmproj") || !name.ends_with(".gguf")) continue;
    try {
      const gguf::File f = gguf::File::open(entry.path().string());
      if (f.metadata().get_string_or("general.architecture", "") != "clip") continue;
      if (f.metadata().get_int_or("clip.vision.projection_dim", -1) == n_embd ||
          (f.find_tensor("mm.input_projection.weight") &&
           int64_t(f.tensor("mm.input_projection.weight").ne[0]) == n_embd))
        fits.push_back(entry.path().string());
    } catch (const std::exception&) {
      // Not a readable projector: not a candidate.
    }
  }
  if (fits.size() == 1) return fits[0];
  if (fits.empty())
    fail("--image needs a multimodal projector: pass --mmproj FILE (no mmproj*.gguf of width {} beside '{}')", n_embd,
         model_path);
  fail("several projectors beside '{}' fit ({}): pick one with --mmproj", model_path, fmt::join(fits, ", "));
}

std::vector<runtime::PromptChunk> image_prompt_chunks(const LoadedEngine& engine, const tokenizer::Tokenizer& tok,
                                                      const std::string& prompt, size_t n_images,
                                                      const runtime::MediaMarkers& markers) {
  // As llama-mtmd-cli: a marker per image before the text unless the prompt
  // places them itself; one user message; the generation prompt.
  std::string content = prompt;
  if (content.find(runtime::kMediaMarker) == std::string::npos)
    for (size_t i = 0; i < n_images; ++i) content = std::string(runtime::kMediaMarker) + content;
  std::vector<std::string> warnings;
  const chat::ChatTemplate tmpl =
      chat::select_chat_template(&engine.file->metadata(), chat::TemplateChoice{}, warnings);
  for (const std::string& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  chat::TemplateInputs inputs;
  inputs.messages = chat::OrderedJson::array({{{"role", "user"}, {"content", content}}});
  inputs.add_generation_prompt = true;
  inputs.leave_tools_undefined = true;
  if (tok.bos() >= 0) inputs.bos_token = tok.token_text(tok.bos());
  if (tok.eos() >= 0) inputs.eos_token = tok.token_text(tok.eos());
  std::string rendered = tmpl.render(inputs);
  // As llama.cpp's common chat: the template's BOS text goes, the tokenizer adds the BOS token.
  if (tok.add_bos() && inputs.bos_token && !inputs.bos_token->empty() && rendered.starts_with(*inputs.bos_token))
    rendered.erase(0, inputs.bos_token->size());
  return runtime::split_media_prompt(tok, rendered, markers, n_images, /*add_special=*/true);
}

std::vector<int32_t> evaluate_image_prompt(LoadedEngine& engine, const tokenizer::Tokenizer& tok,
                                           const std::string& model_path, const std::string& mmproj,
                                           const std::vector<std::string>& images, const std::string& prompt) {
  const int64_t n_embd = engine.model->hparams().n_embd;
  if (images.empty()) fail("--mmproj needs at least one --image PATH");
  const std::string projector_path = find_mmproj(model_path, mmproj, n_embd);
  const auto file = std::make_shared<const gguf::File>(gguf::File::open(projector_path));
  const auto vision = vision::VisionModel::load(file);
  const vision::VisionHParams& vp = vision->hparams();
  if (vp.n_embd_out != n_embd)
    fail("projector '{}' outputs {} values per token but model '{}' has width {}: they do not belong together",
         projector_path, vp.n_embd_out, model_path, n_embd);

  std::vector<vision::ImageEmbeddings> embeddings;
  for (const std::string& path : images)
    embeddings.push_back(vision->encode(*engine.backend, vision::read_image_file(path)));

  const std::vector<runtime::PromptChunk> chunks =
      image_prompt_chunks(engine, tok, prompt, images.size(), {vp.image_begin, vp.image_end});
  if (chunks.empty() || chunks.back().image >= 0) fail("internal: an image prompt must end with text");
  std::vector<float> logits;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    const runtime::PromptChunk& c = chunks[i];
    if (c.image >= 0) {
      const vision::ImageEmbeddings& e = embeddings[size_t(c.image)];
      engine.session->eval_embeddings(e.data.data(), e.n_tokens, vp.image_sees_whole_image);
    } else {
      engine.session->eval(c.tokens, /*all_logits=*/false, logits);
    }
  }
  return chunks.back().tokens;
}

}  // namespace hearth::cli

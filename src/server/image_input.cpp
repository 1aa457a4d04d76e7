#include "server/image_input.h"

#include <filesystem>

#include "core/read_file.h"
#include "runtime/media_prompt.h"
#include "server/api_error.h"
#include "vision/image.h"

namespace hearth::server {
namespace {

bool is_image_part(const chat::OrderedJson& part) {
  if (!part.is_object()) return false;
  const std::string type = part.value("type", "");
  return type == "image_url" || type == "image" || type == "input_image";
}

std::string part_url(const chat::OrderedJson& part) {
  for (const char* key : {"image_url", "url", "image"}) {
    if (!part.contains(key)) continue;
    const auto& v = part[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("url") && v["url"].is_string()) return v["url"].get<std::string>();
  }
  return "";
}

std::string read_image_url(const std::string& url, bool allow_file_urls, const std::string& field) {
  if (url.starts_with("data:")) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos) bad_request(field, "'{}' is not a data URL (data:image/png;base64,...)", field);
    const std::string_view header(url.data() + 5, comma - 5);
    if (!header.ends_with(";base64"))
      bad_request(field, "'{}': only base64 data URLs are supported (data:image/png;base64,...)", field);
    return decode_base64(std::string_view(url).substr(comma + 1), field);
  }
  if (url.starts_with("file://")) {
    if (!allow_file_urls)
      bad_request(field, "'{}': file URLs are off; start the server with --allow-file-urls to read local images",
                  field);
    const std::string path = url.substr(7);
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) bad_request(field, "'{}': cannot read '{}': {}", field, path, ec.message());
    if (size > vision::ImageLimits{}.max_bytes)
      bad_request(field, "'{}': '{}' is {} bytes, over the limit of {} bytes", field, path, size,
                  vision::ImageLimits{}.max_bytes);
    try {
      return read_file(path, "image");
    } catch (const std::exception& e) {
      bad_request(field, "'{}': {}", field, e.what());
    }
  }
  if (url.starts_with("http://") || url.starts_with("https://"))
    bad_request(field, "'{}': hearth does not fetch remote images; send the image as a data URL "
                       "(data:image/png;base64,...)", field);
  bad_request(field, "'{}' must be a data URL (data:image/png;base64,...){}", field,
              allow_file_urls ? " or a file:// URL" : "");
}

// The prefix-cache key of token t of an image with content hash h:
// negative (never a vocabulary id), and different per token, so a cached
// prefix matches an image only if all of it matches.
int32_t image_token_key(uint64_t h, int64_t t) {
  const uint64_t mixed = (h ^ (uint64_t(t) * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
  return -int32_t(mixed >> 33) - 1;
}

}  // namespace

std::string decode_base64(std::string_view text, const std::string& field) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char ch : text) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+' || ch == '-') v = 62;
    else if (ch == '/' || ch == '_') v = 63;
    else if (ch == '=') { ++pad; continue; }
    else if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') continue;
    else bad_request(field, "'{}' is not valid base64 (found byte 0x{:02x})", field, uint8_t(ch));
    if (pad > 0) bad_request(field, "'{}' is not valid base64 (data after '=' padding)", field);
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  if (pad > 2 || bits >= 6) bad_request(field, "'{}' is not valid base64 (truncated)", field);
  return out;
}

std::vector<RequestImage> take_images(chat::OrderedJson& messages, bool allow_file_urls) {
  std::vector<RequestImage> images;
  for (size_t m = 0; m < messages.size(); ++m) {
    auto& msg = messages[m];
    if (!msg.is_object() || !msg.contains("content") || !msg["content"].is_array()) continue;
    auto& parts = msg["content"];
    for (size_t p = 0; p < parts.size(); ++p) {
      if (!is_image_part(parts[p])) continue;
      const std::string field = fmt::format("messages[{}].content[{}]", m, p);
      const std::string url = part_url(parts[p]);
      if (url.empty()) bad_request(field, "'{}' has no image url", field);
      images.push_back({read_image_url(url, allow_file_urls, field), field});
      parts[p] = chat::OrderedJson{{"type", "text"}, {"text", std::string(runtime::kMediaMarker)}};
    }
  }
  return images;
}

void tokenize_with_images(const ServedModel& model, const std::string& prompt_text,
                          const std::vector<RequestImage>& images, GenerationParams& params) {
  const vision::VisionModel& vision = *model.vision();
  const vision::VisionHParams& vp = vision.hparams();
  const std::string bos = model.bos_text();
  const bool has_bos = !bos.empty() && prompt_text.starts_with(bos);
  std::vector<runtime::PromptChunk> chunks;
  try {
    chunks = runtime::split_media_prompt(model.tokenizer(), prompt_text, {vp.image_begin, vp.image_end},
                                         images.size(), /*add_special=*/!has_bos);
  } catch (const std::exception& e) {
    bad_request("messages", "{}", e.what());
  }
  params.prompt.clear();
  params.images.clear();
  for (const runtime::PromptChunk& c : chunks) {
    if (c.image < 0) {
      params.prompt.insert(params.prompt.end(), c.tokens.begin(), c.tokens.end());
      continue;
    }
    const std::string& bytes = images[size_t(c.image)].bytes;
    const std::string& field = images[size_t(c.image)].field;
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const uint64_t hash = vision::image_hash(data);
    std::shared_ptr<const std::vector<float>> rows;
    try {
      rows = model.image_embeddings(data, hash, field);
    } catch (const Error& e) {
      bad_request(field, "{}", e.what());
    }
    PromptImage img;
    img.start = int64_t(params.prompt.size());
    img.n_tokens = int64_t(rows->size()) / vp.n_embd_out;
    img.see_whole_image = vp.image_sees_whole_image;
    img.rows = rows;
    // Its tokens go in one step, beside one decode per other conversation.
    const int64_t room = model.engine().n_batch() - model.engine().n_slots() + 1;
    if (img.see_whole_image && img.n_tokens > room)
      bad_request(field, "an image of {} tokens must be evaluated in one step, but the server's batch leaves room "
                  "for {}: raise --ubatch or lower --parallel", img.n_tokens, room);
    for (int64_t t = 0; t < img.n_tokens; ++t) params.prompt.push_back(image_token_key(hash, t));
    params.images.push_back(std::move(img));
  }
}

}  // namespace hearth::server

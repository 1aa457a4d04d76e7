#include "vision/image.h"

#include <cstring>
#include <filesystem>
#include <memory>

#include <stb_image.h>
#include <webp/decode.h>

#include "core/error.h"
#include "core/read_file.h"

namespace hearth::vision {
namespace {

bool starts_with(std::span<const uint8_t> bytes, std::string_view magic, size_t offset = 0) {
  return bytes.size() >= offset + magic.size() && std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

void check_dimensions(int width, int height, std::string_view source, std::string_view format,
                      const ImageLimits& limits) {
  if (width <= 0 || height <= 0) fail("{}: the {} image has no pixels ({}x{})", source, format, width, height);
  if (width > limits.max_side || height > limits.max_side || int64_t(width) * height > limits.max_pixels)
    fail("{}: the {} image is {}x{} pixels, over the limit of {} pixels a side and {} pixels in all", source, format,
         width, height, limits.max_side, limits.max_pixels);
}

RgbImage decode_webp(std::span<const uint8_t> bytes, std::string_view source, const ImageLimits& limits) {
  int width = 0, height = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &width, &height))
    fail("{}: the WebP data is corrupt or truncated ({} bytes)", source, bytes.size());
  check_dimensions(width, height, source, "webp", limits);
  RgbImage image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * height * 3);
  if (WebPDecodeRGBInto(bytes.data(), bytes.size(), image.rgb.data(), image.rgb.size(), width * 3) == nullptr)
    fail("{}: the WebP data is corrupt or truncated ({} bytes; {}x{} declared)", source, bytes.size(), width, height);
  return image;
}

uint32_t read_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t read_le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }

// The size a PNG, GIF or BMP header declares, read before stb: stb refuses
// huge images itself, but only as "unknown image type".
void check_declared_size(std::span<const uint8_t> bytes, std::string_view format, std::string_view source,
                         const ImageLimits& limits) {
  int64_t w = -1, h = -1;
  if (format == "png" && bytes.size() >= 24) {
    w = read_be32(bytes.data() + 16), h = read_be32(bytes.data() + 20);
  } else if (format == "gif" && bytes.size() >= 10) {
    w = read_le16(bytes.data() + 6), h = read_le16(bytes.data() + 8);
  } else if (format == "bmp" && bytes.size() >= 26) {
    int32_t bw, bh;
    std::memcpy(&bw, bytes.data() + 18, 4);
    std::memcpy(&bh, bytes.data() + 22, 4);
    w = bw, h = bh < 0 ? -int64_t(bh) : bh;
  }
  if (w < 0) return;
  if (w > limits.max_side || h > limits.max_side || w * h > limits.max_pixels)
    fail("{}: the {} image is {}x{} pixels, over the limit of {} pixels a side and {} pixels in all", source, format,
         w, h, limits.max_side, limits.max_pixels);
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

}  // namespace

std::string_view image_format(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return "png";
  if (starts_with(bytes, "\xff\xd8\xff")) return "jpeg";
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return "gif";
  if (starts_with(bytes, "BM")) return "bmp";
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return "webp";
  return "";
}

RgbImage decode_image(std::span<const uint8_t> bytes, std::string_view source, const ImageLimits& limits) {
  if (bytes.empty()) fail("{}: the image is empty (0 bytes)", source);
  if (bytes.size() > limits.max_bytes)
    fail("{}: the image is {} bytes, over the limit of {} bytes", source, bytes.size(), limits.max_bytes);
  const std::string_view format = image_format(bytes);
  if (format.empty())
    fail("{}: not an image hearth can read (supported: PNG, JPEG, GIF, BMP, WebP; the first bytes match none)",
         source);
  if (format == "webp") return decode_webp(bytes, source, limits);
  if (bytes.size() > size_t(INT32_MAX)) fail("{}: the image is too large ({} bytes)", source, bytes.size());
  check_declared_size(bytes, format, source, limits);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = int(bytes.size());
  // The header first: dimensions are checked before stb allocates the pixels.
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &channels))
    fail("{}: the {} data is corrupt or truncated ({} bytes): {}", source, format, bytes.size(),
         stbi_failure_reason() ? stbi_failure_reason() : "unreadable header");
  check_dimensions(width, height, source, format, limits);
  int got_w = 0, got_h = 0, got_c = 0;
  std::unique_ptr<stbi_uc, StbFree> pixels(stbi_load_from_memory(data, length, &got_w, &got_h, &got_c, 3));
  if (!pixels)
    fail("{}: the {} data is corrupt or truncated ({} bytes, {}x{} declared): {}", source, format, bytes.size(),
         width, height, stbi_failure_reason() ? stbi_failure_reason() : "decode failed");
  check_dimensions(got_w, got_h, source, format, limits);
  RgbImage image;
  image.width = got_w;
  image.height = got_h;
  image.rgb.assign(pixels.get(), pixels.get() + size_t(got_w) * got_h * 3);
  return image;
}

RgbImage read_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail("cannot read image '{}': {}", path, ec.message());
  if (size > limits.max_bytes)
    fail("{}: the image is {} bytes, over the limit of {} bytes", path, size, limits.max_bytes);
  const std::string bytes = read_file(path, "image");
  return decode_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, path, limits);
}

uint64_t image_hash(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace hearth::vision

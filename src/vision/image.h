// Decoding image files (PNG, JPEG, GIF, BMP through stb_image; WebP through
// libwebp) into 8-bit RGB, refusing what is corrupt, truncated or too large
// before any big allocation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::vision {

// Row-major RGB, 3 bytes a pixel, no padding.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// What decode_image accepts. The pixel cap stops decompression bombs: a
// few-kilobyte PNG can claim 60000 x 60000 pixels (10 GB of RGB).
struct ImageLimits {
  size_t max_bytes = size_t(64) << 20;  // the encoded file
  int max_side = 16384;                 // width or height
  int64_t max_pixels = int64_t(40) << 20;  // width * height
};

// "png", "jpeg", "gif", "bmp", "webp" from the file's signature; "" when
// none of them.
std::string_view image_format(std::span<const uint8_t> bytes);

// Decodes an image (a GIF's first frame). Throws hearth::Error naming
// `source`, the format and what is wrong: unknown format, corrupt or
// truncated data, dimensions over the limits.
RgbImage decode_image(std::span<const uint8_t> bytes, std::string_view source, const ImageLimits& limits = {});

// Reads and decodes an image file, refusing a file over limits.max_bytes
// before reading it.
RgbImage read_image_file(const std::string& path, const ImageLimits& limits = {});

// The content hash of encoded image bytes (FNV-1a 64): identifies an image
// in the prefix cache.
uint64_t image_hash(std::span<const uint8_t> bytes);

}  // namespace hearth::vision

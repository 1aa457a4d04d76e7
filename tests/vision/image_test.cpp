// Image decoding: every supported format, and hostile input (corrupt,
// truncated, decompression bombs, absurd dimensions) refused with an error
// that names the source and the problem, never a crash.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/read_file.h"
#include "vision/image.h"
#include "vision/preprocess.h"

using namespace hearth;
using namespace hearth::vision;

namespace {

std::vector<uint8_t> image_bytes(const std::string& name) {
  const std::string s = read_file((test::source_dir() / "tests/data/vision/images" / name).string());
  return {s.begin(), s.end()};
}

// The pattern make_images.py draws (tests/data/vision/README.md).
std::array<int, 3> pattern(int x, int y, int w, int h, int seed) {
  return {(x * 255 / std::max(w - 1, 1) + seed * 40) % 256, (y * 255 / std::max(h - 1, 1) + seed * 90) % 256,
          ((x * 7 + y * 13 + seed * 31) * 5) % 256};
}

void expect_pattern(const RgbImage& img, int w, int h, int seed, const std::string& what) {
  ASSERT_EQ(img.width, w) << what;
  ASSERT_EQ(img.height, h) << what;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto p = pattern(x, y, w, h, seed);
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(img.rgb[(size_t(y) * w + x) * 3 + c], p[c]) << what << " pixel " << x << "," << y << " channel " << c;
    }
}

std::string error_of(const std::vector<uint8_t>& bytes, const std::string& source = "img") {
  try {
    decode_image(bytes, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

uint32_t crc32_of(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

// A PNG whose IHDR claims width x height, CRC fixed up so only the size is wrong.
std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = image_bytes("square32.png");
  put_be32(png.data() + 16, width);
  put_be32(png.data() + 20, height);
  const uint32_t crc = crc32_of(png.data() + 12, 17);
  put_be32(png.data() + 29, crc);
  return png;
}

TEST(ImageDecode, LosslessFormatsGiveTheDrawnPixels) {
  expect_pattern(decode_image(image_bytes("square32.png"), "png"), 32, 32, 0, "square32.png");
  expect_pattern(decode_image(image_bytes("wide48x20.png"), "png"), 48, 20, 1, "wide48x20.png");
  expect_pattern(decode_image(image_bytes("rgba24.png"), "png"), 24, 24, 2, "rgba24.png (alpha dropped)");
  expect_pattern(decode_image(image_bytes("tall17x40.bmp"), "bmp"), 17, 40, 3, "tall17x40.bmp");
  expect_pattern(decode_image(image_bytes("lossless20x28.webp"), "webp"), 20, 28, 6, "lossless20x28.webp");
  expect_pattern(decode_image(image_bytes("lossless20x28.png"), "png"), 20, 28, 6, "lossless20x28.png");
}

TEST(ImageDecode, GifAndJpegDecode) {
  const RgbImage gif = decode_image(image_bytes("small9x7.gif"), "gif");
  EXPECT_EQ(gif.width, 9);
  EXPECT_EQ(gif.height, 7);
  // The GIF palette is a 6x6x6 cube: each channel the nearest multiple of 51.
  for (int c = 0; c < 3; ++c) EXPECT_EQ(gif.rgb[c] % 51, 0);
  const RgbImage jpg = decode_image(image_bytes("photo40x30.jpg"), "jpeg");
  EXPECT_EQ(jpg.width, 40);
  EXPECT_EQ(jpg.height, 30);
  // Lossy, but close to what was drawn.
  double err = 0;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c) err += std::abs(jpg.rgb[(y * 40 + x) * 3 + c] - pattern(x, y, 40, 30, 5)[c]);
  EXPECT_LT(err / (40 * 30 * 3), 40.0);  // 4:2:0 chroma on a busy pattern
  EXPECT_EQ(image_format(image_bytes("photo40x30.jpg")), "jpeg");
  EXPECT_EQ(image_format(image_bytes("small9x7.gif")), "gif");
}

TEST(ImageDecode, HostileImagesAreClearErrors) {
  EXPECT_NE(error_of({}).find("empty"), std::string::npos);
  EXPECT_NE(error_of({'h', 'e', 'l', 'l', 'o', ' ', 'w'}).find("not an image"), std::string::npos);
  // Truncated: every format cut short.
  for (const char* name : {"square32.png", "photo40x30.jpg", "small9x7.gif", "tall17x40.bmp", "lossless20x28.webp"}) {
    const auto full = image_bytes(name);
    for (size_t keep : {size_t(4), full.size() / 3, full.size() / 2, full.size() - 9}) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + long(keep));
      const std::string err = error_of(cut, name);
      // stb decodes some truncated GIF/JPEG/BMP scans leniently (missing
      // rows are left black), as llama.cpp does; otherwise a clear error.
      if (!err.empty()) EXPECT_NE(err.find(name), std::string::npos) << err;
    }
  }
  const auto png = image_bytes("square32.png");
  const std::string png_cut = error_of(std::vector<uint8_t>(png.begin(), png.begin() + 60), "cut.png");
  EXPECT_NE(png_cut.find("corrupt or truncated"), std::string::npos) << png_cut;
  // Corrupt: the compressed pixel data overwritten.
  auto corrupt = image_bytes("square32.png");
  for (size_t i = 41; i < corrupt.size() - 20; ++i) corrupt[i] ^= 0x5a;
  EXPECT_NE(error_of(corrupt, "bad.png").find("bad.png"), std::string::npos);
  // Decompression bomb: a few KB claiming 60000 x 60000 pixels.
  const std::string bomb = error_of(png_claiming(60000, 60000), "bomb.png");
  EXPECT_NE(bomb.find("60000x60000"), std::string::npos) << bomb;
  EXPECT_NE(bomb.find("limit"), std::string::npos) << bomb;
  // Absurd dimensions: zero, and 2^31-1 a side.
  EXPECT_FALSE(error_of(png_claiming(0, 10), "zero.png").empty());
  EXPECT_FALSE(error_of(png_claiming(0x7fffffff, 1), "wide.png").empty());
  // A BMP header claiming a huge height.
  auto bmp = image_bytes("tall17x40.bmp");
  const int32_t tall = 1 << 30;
  std::memcpy(bmp.data() + 22, &tall, 4);
  EXPECT_FALSE(error_of(bmp, "tall.bmp").empty());
  // A GIF screen of 65535 x 65535.
  auto gif = image_bytes("small9x7.gif");
  gif[6] = gif[7] = gif[8] = gif[9] = 0xff;
  EXPECT_FALSE(error_of(gif, "big.gif").empty());
  // WebP: the VP8L header's size bits corrupted.
  auto webp = image_bytes("lossless20x28.webp");
  for (size_t i = 21; i < webp.size(); ++i) webp[i] = 0xff;
  EXPECT_NE(error_of(webp, "bad.webp").find("bad.webp"), std::string::npos);
  // Over the byte limit.
  ImageLimits small;
  small.max_bytes = 100;
  try {
    decode_image(image_bytes("square32.png"), "big.png", small);
    ADD_FAILURE() << "a file over max_bytes was decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over the limit"), std::string::npos);
  }
}

TEST(ImageDecode, ContentHashTellsImagesApart) {
  const auto a = image_bytes("square32.png");
  auto b = a;
  b.back() ^= 1;
  EXPECT_EQ(image_hash(a), image_hash(image_bytes("square32.png")));
  EXPECT_NE(image_hash(a), image_hash(b));
}

TEST(ImagePreprocess, PaddedResizeKeepsAspectOnBlack) {
  RgbImage img;
  img.width = 4;
  img.height = 2;
  img.rgb.assign(4 * 2 * 3, 200);
  const RgbImage out = resize_bilinear_padded(img, 8, 8, {0, 0, 0});
  ASSERT_EQ(out.width, 8);
  ASSERT_EQ(out.height, 8);
  // 4x2 scaled by 2 is 8x4, centred: rows 2..5 image, the rest black.
  for (int y = 0; y < 8; ++y)
    EXPECT_EQ(out.rgb[(size_t(y) * 8 + 3) * 3], (y >= 2 && y < 6) ? 200 : 0) << "row " << y;
  // Same size: copied as is.
  EXPECT_EQ(resize_bilinear_padded(img, 4, 2, {0, 0, 0}).rgb, img.rgb);
  // Bilinear with aligned corners and truncation: 0 and 255 at the ends of 3 pixels.
  RgbImage ramp;
  ramp.width = 2;
  ramp.height = 1;
  ramp.rgb = {0, 0, 0, 255, 255, 255};
  const RgbImage r = resize_bilinear(ramp, 3, 1);
  EXPECT_EQ(r.rgb[0], 0);
  EXPECT_EQ(r.rgb[3], 127);  // 127.5 truncated
  EXPECT_EQ(r.rgb[6], 255);
}

}  // namespace

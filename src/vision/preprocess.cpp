#include "vision/preprocess.h"

#include <algorithm>
#include <cmath>

namespace hearth::vision {
namespace {

float lerp(float s, float e, float t) { return s + (e - s) * t; }

}  // namespace

RgbImage resize_bilinear(const RgbImage& src, int width, int height) {
  RgbImage dst;
  width = std::max(width, 1);
  height = std::max(height, 1);
  dst.width = width;
  dst.height = height;
  dst.rgb.resize(size_t(width) * height * 3);
  const float x_ratio = width > 1 ? float(src.width - 1) / float(width - 1) : 0.0f;
  const float y_ratio = height > 1 ? float(src.height - 1) / float(height - 1) : 0.0f;
  auto pixel = [&](int x, int y) { return src.rgb.data() + (size_t(y) * src.width + x) * 3; };
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const float px = float(x) * x_ratio;
      const float py = float(y) * y_ratio;
      const int x0 = std::min(int(px), src.width - 1);
      const int y0 = std::min(int(py), src.height - 1);
      const int x1 = std::min(x0 + 1, src.width - 1);
      const int y1 = std::min(y0 + 1, src.height - 1);
      const float xf = px - float(x0);
      const float yf = py - float(y0);
      const uint8_t *p00 = pixel(x0, y0), *p10 = pixel(x1, y0), *p01 = pixel(x0, y1), *p11 = pixel(x1, y1);
      uint8_t* out = dst.rgb.data() + (size_t(y) * width + x) * 3;
      for (int c = 0; c < 3; ++c) {
        const float top = lerp(float(p00[c]), float(p10[c]), xf);
        const float bottom = lerp(float(p01[c]), float(p11[c]), xf);
        out[c] = uint8_t(lerp(top, bottom, yf));  // truncated, as llama.cpp
      }
    }
  }
  return dst;
}

RgbImage resize_bilinear_padded(const RgbImage& src, int width, int height, std::array<uint8_t, 3> pad) {
  if (src.width == width && src.height == height) return src;
  const float scale = std::min(float(width) / float(src.width), float(height) / float(src.height));
  const int new_w = std::min(int(std::ceil(float(src.width) * scale)), width);
  const int new_h = std::min(int(std::ceil(float(src.height) * scale)), height);
  const RgbImage resized = resize_bilinear(src, new_w, new_h);
  RgbImage dst;
  dst.width = width;
  dst.height = height;
  dst.rgb.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < size_t(width) * height; ++i) std::copy(pad.begin(), pad.end(), dst.rgb.begin() + i * 3);
  const int off_x = (width - resized.width) / 2;
  const int off_y = (height - resized.height) / 2;
  for (int y = 0; y < resized.height; ++y)
    std::copy_n(resized.rgb.data() + size_t(y) * resized.width * 3, size_t(resized.width) * 3,
                dst.rgb.data() + (size_t(y + off_y) * width + off_x) * 3);
  return dst;
}

PixelInput normalize_to_planes(const RgbImage& image, const std::array<float, 3>& mean,
                               const std::array<float, 3>& std) {
  PixelInput input;
  input.width = image.width;
  input.height = image.height;
  const size_t n = size_t(image.width) * image.height;
  input.planes.resize(3 * n);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      const float v = float(image.rgb[i * 3 + c]) / 255.0f;
      input.planes[c * n + i] = (v - mean[c]) / std[c];
    }
  return input;
}

}  // namespace hearth::vision

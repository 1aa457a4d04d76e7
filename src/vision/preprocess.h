// Image preprocessing as llama.cpp's clip preprocessing does it (mtmd-image
// img_tool), so that the encoder sees the same pixels: resizes with the same
// interpolation and rounding, then normalisation to float.
#pragma once

#include <array>

#include "vision/image.h"
#include "vision/vision_model.h"

namespace hearth::vision {

// Bilinear resize to exactly width x height (corners aligned: source
// coordinate x * (src_w - 1) / (dst_w - 1)), each channel truncated to 8 bits.
RgbImage resize_bilinear(const RgbImage& src, int width, int height);

// Fits the image inside width x height keeping its aspect ratio (the scaled
// size rounded up, at most the target), resized bilinearly and centred on a
// `pad` background (llama.cpp's PAD_CEIL). An image of that size is copied.
RgbImage resize_bilinear_padded(const RgbImage& src, int width, int height, std::array<uint8_t, 3> pad);

// value / 255, then (value - mean) / std per channel, into planes [3][h][w].
PixelInput normalize_to_planes(const RgbImage& image, const std::array<float, 3>& mean,
                               const std::array<float, 3>& std);

}  // namespace hearth::vision

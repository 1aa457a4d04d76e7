// libFuzzer target for image decoding (stb_image, libwebp, hearth's checks):
// any input must decode or be refused with hearth::Error; a crash, a
// sanitizer report or another exception is a bug. scripts/fuzz runs it; the
// corpus replay test runs fuzz/image_corpus in every CI run under ASan.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "vision/image.h"
#include "vision/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    hearth::vision::ImageLimits limits;
    limits.max_pixels = int64_t(4) << 20;  // keep each run quick
    const auto image = hearth::vision::decode_image(std::span<const uint8_t>(data, size), "fuzz", limits);
    // What the encoder does next: resize into its square and normalise.
    const auto square = hearth::vision::resize_bilinear_padded(image, 32, 32, {0, 0, 0});
    const auto planes = hearth::vision::normalize_to_planes(square, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f});
    volatile float sink = planes.planes.empty() ? 0.0f : planes.planes.back();
    (void)sink;
  } catch (const hearth::Error&) {
  }
  return 0;
}

// Lookup tables of the IQ1/IQ2/IQ3 weight types (values in iq_grids.cpp and
// iq1_grid.cpp, from ggml-common.h), and the sign tables derived from them.
#pragma once

#include <array>
#include <cstdint>

namespace hearth::ref {

// Grids: entry i holds 8 (IQ1/IQ2, uint64) or 4 (IQ3, uint32) byte levels,
// element 0 in the lowest byte.
extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];  // bytes are int8 -1, 0, +1

// IQ2/IQ3 store 7 sign bits per 8 elements; the eighth makes the number of
// negative signs even. kSignsIq2[s] is the full 8-bit mask for code s
// (ggml's ksigns_iq2xs).
inline constexpr std::array<uint8_t, 128> kSignsIq2 = [] {
  std::array<uint8_t, 128> out{};
  for (int s = 0; s < 128; ++s) out[s] = uint8_t(s | ((__builtin_popcount(unsigned(s)) & 1) << 7));
  return out;
}();

// The additive offset of IQ1_S / IQ1_M levels (+-1/8 of a grid step).
inline constexpr float kIq1Delta = 0.125f;

// The byte of grid entry `index` at position j.
inline uint8_t grid_byte(const uint64_t* grid, int index, int j) { return uint8_t(grid[index] >> (8 * j)); }
inline uint8_t grid_byte(const uint32_t* grid, int index, int j) { return uint8_t(grid[index] >> (8 * j)); }

// The quantizers' sign step for a group of 8 values x with weights w: writes
// |x| to magnitude and returns the sign bits (bit i set where x[i] < 0). With
// even_parity (the types that store 7 sign bits, kSignsIq2 above) an odd
// number of negatives is made even by flipping back the element whose flip
// costs least (smallest w x^2), as ggml does; only 7 bits are returned then.
inline uint8_t split_signs(const float* x, const float* w, bool even_parity, float* magnitude) {
  uint8_t s = 0;
  int nflip = 0;
  for (int i = 0; i < 8; ++i) {
    if (x[i] >= 0) {
      magnitude[i] = x[i];
    } else {
      magnitude[i] = -x[i];
      s |= uint8_t(1 << i);
      ++nflip;
    }
  }
  if (!even_parity) return s;
  if (nflip % 2) {
    int imin = 0;
    float min = w[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = w[i] * x[i] * x[i];
      if (ax < min) min = ax, imin = i;
    }
    magnitude[imin] = -magnitude[imin];
    s ^= uint8_t(1 << imin);
  }
  return uint8_t(s & 127);
}

}  // namespace hearth::ref

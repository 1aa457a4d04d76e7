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

}  // namespace hearth::ref

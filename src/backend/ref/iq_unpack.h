// Unpacking of one IQ1/IQ2/IQ3 super-block into signed integer levels and
// integer scales (per 16 elements), the form every dot product of these
// types reduces to: the row's value is d * factor * sum_g scale[g] * levels.
#pragma once

#include <cstdint>
#include <cstring>

#include "backend/ref/iq_grids.h"
#include "core/quant_blocks.h"

namespace hearth::ref {

struct IqLevels {
  int8_t levels[kQK_K];   // grid value times sign
  int scales[kQK_K / 16];  // odd scale 2s+1 of each 16 elements
};

struct Iq1Levels {
  int8_t levels[kQK_K];    // grid value, -1..1
  int scales[kQK_K / 16];  // 2s+1
  int deltas[kQK_K / 16];  // IQ1_S: the offset's sign (+-1) per 16 (shared by a 32)
  int deltas8[kQK_K / 8];  // IQ1_M: the offset's sign per 8
};

namespace detail {
inline void put_signed(int8_t* out, uint8_t grid_value_bytes[8], uint8_t signs, int count) {
  for (int j = 0; j < count; ++j) out[j] = int8_t((signs >> j) & 1 ? -grid_value_bytes[j] : grid_value_bytes[j]);
}
inline void grid8(uint64_t entry, uint8_t* out) {
  for (int j = 0; j < 8; ++j) out[j] = uint8_t(entry >> (8 * j));
}
inline void grid4(uint32_t e1, uint32_t e2, uint8_t* out) {
  for (int j = 0; j < 4; ++j) out[j] = uint8_t(e1 >> (8 * j)), out[j + 4] = uint8_t(e2 >> (8 * j));
}
}  // namespace detail

inline void unpack_iq2_xxs(const block_iq2_xxs& b, IqLevels& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    uint32_t aux[2];
    std::memcpy(aux, b.qs + 4 * ib, sizeof(aux));
    u.scales[2 * ib] = u.scales[2 * ib + 1] = int(2 * (aux[1] >> 28) + 1);
    for (int l = 0; l < 4; ++l) {
      uint8_t g[8];
      detail::grid8(kIq2xxsGrid[(aux[0] >> (8 * l)) & 0xff], g);
      detail::put_signed(u.levels + 32 * ib + 8 * l, g, kSignsIq2[(aux[1] >> (7 * l)) & 127], 8);
    }
  }
}

inline void unpack_iq2_xs(const block_iq2_xs& b, IqLevels& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    u.scales[2 * ib] = 2 * (b.scales[ib] & 0xf) + 1;
    u.scales[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      uint8_t g[8];
      detail::grid8(kIq2xsGrid[q & 511], g);
      detail::put_signed(u.levels + 32 * ib + 8 * l, g, kSignsIq2[q >> 9], 8);
    }
  }
}

inline void unpack_iq2_s(const block_iq2_s& b, IqLevels& u) {
  const uint8_t* signs = b.qs + kQK_K / 8;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    u.scales[2 * ib] = 2 * (b.scales[ib] & 0xf) + 1;
    u.scales[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
    for (int l = 0; l < 4; ++l) {
      const int index = b.qs[4 * ib + l] | ((b.qh[ib] << (8 - 2 * l)) & 0x300);
      uint8_t g[8];
      detail::grid8(kIq2sGrid[index], g);
      detail::put_signed(u.levels + 32 * ib + 8 * l, g, signs[4 * ib + l], 8);
    }
  }
}

inline void unpack_iq3_xxs(const block_iq3_xxs& b, IqLevels& u) {
  const uint8_t* scales_and_signs = b.qs + kQK_K / 4;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    uint32_t aux;
    std::memcpy(&aux, scales_and_signs + 4 * ib, sizeof(aux));
    u.scales[2 * ib] = u.scales[2 * ib + 1] = int(2 * (aux >> 28) + 1);
    const uint8_t* qs = b.qs + 8 * ib;
    for (int l = 0; l < 4; ++l) {
      uint8_t g[8];
      detail::grid4(kIq3xxsGrid[qs[2 * l]], kIq3xxsGrid[qs[2 * l + 1]], g);
      detail::put_signed(u.levels + 32 * ib + 8 * l, g, kSignsIq2[(aux >> (7 * l)) & 127], 8);
    }
  }
}

inline void unpack_iq3_s(const block_iq3_s& b, IqLevels& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const int nibble = ib % 2 == 0 ? (b.scales[ib / 2] & 0xf) : (b.scales[ib / 2] >> 4);
    u.scales[2 * ib] = u.scales[2 * ib + 1] = 2 * nibble + 1;
    const uint8_t* qs = b.qs + 8 * ib;
    const int qh = b.qh[ib];
    for (int l = 0; l < 4; ++l) {
      const int index1 = qs[2 * l] | ((qh << (8 - 2 * l)) & 256);
      const int index2 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
      uint8_t g[8];
      detail::grid4(kIq3sGrid[index1], kIq3sGrid[index2], g);
      detail::put_signed(u.levels + 32 * ib + 8 * l, g, b.signs[4 * ib + l], 8);
    }
  }
}

inline void unpack_iq1_s(const block_iq1_s& b, Iq1Levels& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const uint16_t qh = b.qh[ib];
    u.scales[2 * ib] = u.scales[2 * ib + 1] = 2 * ((qh >> 12) & 7) + 1;
    u.deltas[2 * ib] = u.deltas[2 * ib + 1] = qh & 0x8000 ? -1 : 1;
    for (int l = 0; l < 4; ++l) {
      const uint64_t entry = kIq1sGrid[b.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
      for (int j = 0; j < 8; ++j) u.levels[32 * ib + 8 * l + j] = int8_t(uint8_t(entry >> (8 * j)));
    }
  }
}

// IQ1_M's f16 super-block scale, spread over the top nibbles of its 4 scale words.
inline uint16_t iq1_m_super_scale(const uint16_t sc[4]) {
  return uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

inline void unpack_iq1_m(const block_iq1_m& b, Iq1Levels& u) {
  uint16_t sc[4];
  std::memcpy(sc, b.scales, sizeof(sc));
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    u.scales[2 * ib] = 2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1;
    u.scales[2 * ib + 1] = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1;
    for (int l = 0; l < 4; ++l) {
      const uint8_t h = b.qh[2 * ib + l / 2];
      const int index = b.qs[4 * ib + l] | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700);
      u.deltas8[4 * ib + l] = (l % 2 == 0 ? h & 0x08 : h & 0x80) ? -1 : 1;
      const uint64_t entry = kIq1sGrid[index];
      for (int j = 0; j < 8; ++j) u.levels[32 * ib + 8 * l + j] = int8_t(uint8_t(entry >> (8 * j)));
    }
  }
}

}  // namespace hearth::ref

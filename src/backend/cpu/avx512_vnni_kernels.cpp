// AVX-512 F/BW/VL + VNNI kernels (compiled with those flags; see
// src/CMakeLists.txt): the shared x86 kernels with the int8 dot products done
// by vpdpbusd instead of vpmaddubsw + vpmaddwd.
// GCC 12 reports the AVX-512 intrinsics' own "undefined" pass-through
// operands as maybe-uninitialized when they inline; they are not.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "backend/cpu/x86_kernels.inc"

namespace hearth::cpu::detail {

void install_avx512_vnni(const KernelSlots& slots) { install_x86_kernels(slots); }

}  // namespace hearth::cpu::detail

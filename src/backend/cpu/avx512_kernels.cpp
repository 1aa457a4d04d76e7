// AVX-512 F/BW/VL kernels without VNNI (compiled with those flags; see
// src/CMakeLists.txt): the shared x86 kernels built for this ISA (EVEX
// encodings, 32 vector registers).
// GCC 12 reports the AVX-512 intrinsics' own "undefined" pass-through
// operands as maybe-uninitialized when they inline; they are not.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "backend/cpu/x86_kernels.inc"

namespace hearth::cpu::detail {

void install_avx512(const KernelSlots& slots) { install_x86_kernels(slots); }

}  // namespace hearth::cpu::detail

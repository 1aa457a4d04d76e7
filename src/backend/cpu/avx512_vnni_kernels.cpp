// AVX-512 F/BW/VL + VNNI kernels (compiled with those flags; see
// src/CMakeLists.txt): the shared x86 kernels with the int8 dot products done
// by vpdpbusd instead of vpmaddubsw + vpmaddwd.
#include "backend/cpu/x86_kernels.inc"

namespace hearth::cpu::detail {

void install_avx512_vnni(const KernelSlots& slots) { install_x86_kernels(slots); }

}  // namespace hearth::cpu::detail

// AVX2 + FMA + F16C kernels (this file is compiled with -mavx2 -mfma -mf16c;
// see src/CMakeLists.txt). Only reached when detect_cpu_features reports them.
#include "backend/cpu/x86_kernels.inc"

namespace hearth::cpu::detail {

void install_avx2(const KernelSlots& slots) { install_x86_kernels(slots); }

}  // namespace hearth::cpu::detail

// libFuzzer target for the GGUF reader: any input must parse or be refused
// with hearth::Error; anything else (a crash, a sanitizer report, another
// exception) is a bug. scripts/fuzz builds it with clang; the corpus replay
// test runs the same function over fuzz/corpus in every CI run.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = hearth::gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz");
    // Touch what a loader reads.
    uint64_t sum = file.n_params();
    for (const auto& [key, value] : file.metadata().entries()) sum += key.size() + value.size();
    for (const auto& t : file.tensors())
      if (t.n_bytes > 0) sum += t.data[0] + t.data[t.n_bytes - 1];
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const hearth::Error&) {
  }
  return 0;
}

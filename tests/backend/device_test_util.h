// Shared by the DeviceBackend tests (the CPU one here, the Vulkan one in
// tests/backend_vulkan): the backend a parameterized case runs on, random
// data, host <-> device helpers and the comparisons.
#pragma once

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/random_blocks.h"

namespace hearth::device_test {

// A DeviceBackend the op cases run against: its name (the test suffix) and
// the backend, made once per program (pipelines, thread pools).
struct DeviceUnderTest {
  std::string name;
  backend::DeviceBackend& (*get)();
  // Quantized matmuls sum per-block products in the scalar reference's order
  // (the Vulkan shaders, the CPU's scalar kernels), so they are its bits;
  // otherwise (the CPU's SIMD kernels) within ops_parity_test's 1e-4.
  bool reference_order = true;
  // A row's matmul result does not depend on how many rows go with it, bit
  // for bit, for every type. The CPU's SIMD kernels hold that for the packed
  // types only (one row of an unpacked K-quant goes through the rows kernel,
  // a batch through the tile kernel, which sum in other orders): within 1e-4.
  bool batch_invariant = true;
};

inline void PrintTo(const DeviceUnderTest& d, std::ostream* os) { *os << d.name; }

inline std::string device_name(const testing::TestParamInfo<DeviceUnderTest>& info) { return info.param.name; }

using test::random_floats;

inline backend::DeviceTensor upload(backend::DeviceBackend& d, const std::vector<float>& values, int64_t n) {
  backend::DeviceTensor t = d.alloc(DType::F32, n, int64_t(values.size()) / n);
  d.write(t, values.data());
  return t;
}

inline backend::DeviceTensor upload_ids(backend::DeviceBackend& d, const std::vector<int32_t>& ids) {
  backend::DeviceTensor t = d.alloc(DType::I32, int64_t(ids.size()), 1);
  d.write(t, ids.data());
  return t;
}

// Reads a (contiguous) f32 tensor back, syncing.
inline std::vector<float> download(backend::DeviceBackend& d, const backend::DeviceTensor& t) {
  std::vector<float> out(size_t(t.n * t.rows));
  d.read(t, out.data());
  d.sync();
  return out;
}

// |a - b| within tolerance x the largest |b| (summation order moves results
// by rounding relative to the magnitude of what was summed).
inline void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tolerance,
                         const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 1e-6;
  for (float x : b) scale = std::max(scale, double(std::fabs(x)));
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tolerance * scale) << what << " at " << i;
}

// Bit for bit (so NaNs and signed zeros count too).
inline void expect_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    ASSERT_EQ(x, y) << what << " at " << i << ": " << a[i] << " vs " << b[i];
  }
}

}  // namespace hearth::device_test

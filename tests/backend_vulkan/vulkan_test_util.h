// Shared by the Vulkan backend tests: the device they run on (lavapipe in CI:
// a CPU-type device, so it is named explicitly as --devices would), random
// data, and host <-> device helpers.
#pragma once

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/device.h"
#include "backend/vulkan/instance.h"

namespace hearth::vulkan_test {

// One backend for the whole program (pipelines are built once). Fails the
// test, not skips it, when there is no Vulkan device: CI installs lavapipe.
inline backend::DeviceBackend& device() {
  static std::unique_ptr<backend::DeviceBackend> backend = [] {
    std::string why;
    auto devices = vulkan::list_devices(&why);
    if (devices.empty()) {
      ADD_FAILURE() << "no Vulkan device (" << why << "); scripts/setup installs lavapipe (mesa-vulkan-drivers)";
      return std::unique_ptr<backend::DeviceBackend>();
    }
    return vulkan::make_backend(devices[0].id);
  }();
  if (!backend) throw std::runtime_error("no Vulkan device");
  return *backend;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline backend::DeviceTensor upload(const std::vector<float>& values, int64_t n) {
  auto& d = device();
  backend::DeviceTensor t = d.alloc(DType::F32, n, int64_t(values.size()) / n);
  d.write(t, values.data());
  return t;
}

inline backend::DeviceTensor upload_ids(const std::vector<int32_t>& ids) {
  auto& d = device();
  backend::DeviceTensor t = d.alloc(DType::I32, int64_t(ids.size()), 1);
  d.write(t, ids.data());
  return t;
}

// Reads a (contiguous) f32 tensor back, syncing.
inline std::vector<float> download(const backend::DeviceTensor& t) {
  std::vector<float> out(size_t(t.n * t.rows));
  device().read(t, out.data());
  device().sync();
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

inline void expect_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << what << " at " << i;
}

}  // namespace hearth::vulkan_test

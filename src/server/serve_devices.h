// The GPUs a server runs its models on (`hearth serve --devices`): opened
// once, when the server starts, and shared by every model it loads, with
// the layer placement `hearth run` takes (--gpu-layers, --tensor-split).
// A device backend records from one thread at a time, so the engines of the
// models on it take turns: each holds `mutex` while it builds its part,
// runs a step or frees its part (a GPU runs one model's step at a time
// anyway).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/device.h"

namespace hearth::server {

// A mutex taken in the order it was asked for: an engine that steps again
// at once does not starve another model's engine waiting for the device.
class TurnMutex {
 public:
  void lock() {
    std::unique_lock lock(mutex_);
    const uint64_t ticket = next_++;
    cv_.wait(lock, [&] { return serving_ == ticket; });
  }
  void unlock() {
    {
      std::lock_guard lock(mutex_);
      ++serving_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t next_ = 0, serving_ = 0;
};

struct ServeDevices {
  std::vector<std::unique_ptr<backend::DeviceBackend>> devices;
  std::string gpu_layers;    // as --gpu-layers: "" (all that fit), "all", or a count
  std::string tensor_split;  // as --tensor-split: "" (by memory), or shares
  // Bytes the loaded models may plan on each device (--max-device-memory;
  // default: its memory less a tenth, what --gpu-layers' default leaves free).
  std::vector<uint64_t> budgets;
  mutable TurnMutex mutex;

  std::vector<backend::DeviceInfo> infos() const {
    std::vector<backend::DeviceInfo> out;
    for (const auto& d : devices) out.push_back(d->info());
    return out;
  }
};

}  // namespace hearth::server

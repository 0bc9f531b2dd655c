#pragma once
/// @file
/// nn::DeviceWeights: a layer's weights on a device other than the CPU. Layers hold their weights
/// on the host (loaded or mapped from the file); the first forward on a device copies each weight
/// there, and later forwards, and the layer's copies, reuse that copy (as ops::PackedOnce does for
/// the packed CPU layout). On the CPU a weight is used where it is.
///
/// Forwards are templates over the device of their input. For a device other than the CPU, the
/// translation unit includes that backend's dispatch header before the layers
/// (biqa/cuda.cuh does both), so that ops:: resolves to the device's overloads.

#include <memory>
#include <mutex>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "biqa/core/device.hpp"
#include "biqa/core/tensor.hpp"

/// Marks that layers templated over the device are declared; ops/cuda/dispatch.cuh must come first.
#define BIQA_NN_DEVICE_LAYERS 1

namespace biqa::nn {

class DeviceWeights {
 public:
  /// The layer's tensor number `slot` on `Device`. On the CPU it is `host_of()` itself. Elsewhere
  /// `host_of()` (a host tensor, possibly undefined for an absent bias) is called on the first use
  /// only and copied to the device; the copy is kept. Safe to call from several threads.
  /// The copy is made on the device current at that first use.
  template <typename Device, typename HostOf>
  Tensor<float, Device> get_from(int slot, HostOf&& host_of) {
    if constexpr (std::is_same_v<Device, Cpu>) {
      return std::forward<HostOf>(host_of)();
    } else {
      const std::lock_guard<std::mutex> lock(mutex_);
      for (const Entry& e : entries_)
        if (e.slot == slot && e.device == Device::name) return *static_cast<const Tensor<float, Device>*>(e.tensor.get());
      const Tensor<float> host = std::forward<HostOf>(host_of)();
      auto copy = std::make_shared<const Tensor<float, Device>>(host.defined() ? to_device<Device>(host)
                                                                               : Tensor<float, Device>());
      entries_.push_back({Device::name, slot, copy});
      return *copy;
    }
  }
  /// The same for a weight held as a host tensor.
  template <typename Device>
  Tensor<float, Device> get(int slot, const Tensor<float>& host) {
    return get_from<Device>(slot, [&] { return host; });
  }

  /// How many device copies exist (for tests and memory reports).
  std::size_t copies() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

 private:
  struct Entry {
    std::string_view device;
    int slot;
    std::shared_ptr<const void> tensor;  // a Tensor<float, Device>
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

/// True for the CPU: layers keep their CPU-only paths (packed weights, fused epilogues, in-place
/// updates of 16-bit weights) under `if constexpr (on_host<Device>)`.
template <typename Device>
inline constexpr bool on_host = std::is_same_v<Device, Cpu>;

}  // namespace biqa::nn

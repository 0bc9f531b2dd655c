#pragma once
// Device tags. A tensor's device is part of its type, so CPU-only code never sees CUDA.

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "biqa/core/error.hpp"

namespace biqa {

struct Cpu {
  static constexpr const char* name = "cpu";
};
struct Cuda {
  static constexpr const char* name = "cuda";
};

inline constexpr std::size_t cpu_alignment = 64;  // one cache line; enough for AVX-512 loads

// Memory management per device; the CUDA specialisation lives in ops/cuda.
template <typename Device>
struct DeviceAllocator;

template <>
struct DeviceAllocator<Cpu> {
  static std::shared_ptr<void> allocate(std::size_t bytes) {
    const std::size_t rounded = (bytes + cpu_alignment - 1) / cpu_alignment * cpu_alignment;
    void* p = std::aligned_alloc(cpu_alignment, rounded == 0 ? cpu_alignment : rounded);
    if (!p) fail(ErrorCode::internal, "out of memory allocating ", bytes, " bytes");
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
};

}  // namespace biqa

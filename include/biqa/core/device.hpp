#pragma once
/// @file
/// Device tags. A tensor's device is part of its type, so CPU-only code never sees CUDA.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "biqa/core/error.hpp"

namespace biqa {

struct Cpu {
  static constexpr const char* name = "cpu";
};
struct Cuda {
  static constexpr const char* name = "cuda";
};

inline constexpr std::size_t cpu_alignment = 64;  ///< one cache line; enough for AVX-512 loads

/// Memory management per device; the CUDA specialisation lives in ops/cuda.
template <typename Device>
struct DeviceAllocator;

/// Copies on a device other than the CPU: `contiguous_copy(t)` returns a row-major copy of any
/// view `t` (what Tensor::clone and Tensor::contiguous do there); `from_host(t)` and `to_host(t)`
/// move a tensor between the host and the device (biqa::to_device). The CUDA specialisation lives
/// in ops/cuda/runtime.cuh, so code written once calls contiguous() on tensors of either device.
template <typename Device>
struct DeviceCopy;

/// Buffers of at least this size are placed on 2 MiB boundaries and, on Linux, offered to the
/// kernel as transparent huge pages: a fresh activation buffer then costs one page fault per 2 MiB
/// instead of one per 4 KiB. On virtual machines a 4 KiB fault costs microseconds, which made first
/// touches of large outputs a visible part of a forward pass (docs/performance.md).
inline constexpr std::size_t cpu_huge_page = std::size_t(2) << 20;

/// Whether new CPU buffers are filled with NaN: BIQA_POISON_BUFFERS=1 in the environment sets it
/// at start. A tensor's storage is uninitialised; poisoned, code that reads memory it never wrote
/// (and relied, say, on fresh pages being zero) gives NaNs that the parity tests catch.
inline std::atomic<bool>& cpu_poison_buffers() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("BIQA_POISON_BUFFERS");
    return v != nullptr && v[0] == '1';
  }()};
  return on;
}

template <>
struct DeviceAllocator<Cpu> {
  static std::shared_ptr<void> allocate(std::size_t bytes) {
    // A huge buffer is rounded up to whole 4 KiB pages, not to 2 MiB: only its whole 2 MiB pages
    // are advised as huge, so the tail past the last one does not become a resident 2 MiB page.
    // (Rounding to 2 MiB cost ResNet-50 31 MB after loading and 42 MB at its peak.)
    const bool huge = bytes >= cpu_huge_page;
    const std::size_t align = huge ? cpu_huge_page : cpu_alignment;
    const std::size_t granule = huge ? std::size_t(4096) : cpu_alignment;
    const std::size_t rounded = bytes == 0 ? granule : (bytes + granule - 1) / granule * granule;
    void* p = nullptr;
    if (::posix_memalign(&p, align, rounded) != 0 || !p)
      fail(ErrorCode::internal, "out of memory allocating ", bytes, " bytes");
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) ::madvise(p, rounded / cpu_huge_page * cpu_huge_page, MADV_HUGEPAGE);  // advice only
#endif
    if (cpu_poison_buffers().load(std::memory_order_relaxed)) {
      std::fill_n(static_cast<float*>(p), rounded / sizeof(float), std::numeric_limits<float>::quiet_NaN());
    }
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
};

}  // namespace biqa

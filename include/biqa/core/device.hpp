#pragma once
/// @file
/// Device tags. A tensor's device is part of its type, so CPU-only code never sees CUDA.

#include <cstddef>
#include <cstdlib>
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

/// Buffers of at least this size are placed on 2 MiB boundaries and, on Linux, offered to the
/// kernel as transparent huge pages: a fresh activation buffer then costs one page fault per 2 MiB
/// instead of one per 4 KiB. On virtual machines a 4 KiB fault costs microseconds, which made first
/// touches of large outputs a visible part of a forward pass (docs/performance.md).
inline constexpr std::size_t cpu_huge_page = std::size_t(2) << 20;

template <>
struct DeviceAllocator<Cpu> {
  static std::shared_ptr<void> allocate(std::size_t bytes) {
    const bool huge = bytes >= cpu_huge_page;
    const std::size_t align = huge ? cpu_huge_page : cpu_alignment;
    const std::size_t rounded = bytes == 0 ? align : (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded);
    if (!p) fail(ErrorCode::internal, "out of memory allocating ", bytes, " bytes");
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
};

}  // namespace biqa

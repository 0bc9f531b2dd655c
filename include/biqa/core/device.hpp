#pragma once
/// @file
/// Device tags. A tensor's device is part of its type, so CPU-only code never sees CUDA.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

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

/// Buffers of at least this size are mapped from the kernel on their own (Linux) and returned to it
/// when released. Below it they come from the C heap, which keeps freed memory for reuse: after a
/// large network's forward has freed and reallocated blocks of many sizes, the heap holds more
/// than is ever live at once (Depth Anything vitl at 518: 56 MB of its peak with glibc's own
/// threshold). Released mappings are kept for a buffer of the same size (MappedBufferCache): the
/// kernel zeroes each new mapping's pages (a few % of a batch-8 DeiT forward, docs/performance.md).
/// The threshold is the huge-page size: a heap buffer of 2-4 MiB, allocated 2 MiB-aligned, came
/// back from glibc as fresh pages on every call (0.6 ms for ResNet-50's 3.2 MB activations).
inline constexpr std::size_t cpu_map_threshold = cpu_huge_page;

/// At most this many bytes of released mappings are kept for reuse (MappedBufferCache).
inline constexpr std::size_t cpu_map_cache_limit = std::size_t(256) << 20;

#if defined(__linux__)
/// Released activation mappings, kept to be handed out again for a buffer of the same size: the
/// kernel zeroes every page of a new mapping on first touch (page faults and clear_page were 6% of
/// a DGIQA score). It never raises the peak: a request it cannot serve first unmaps at least as many
/// cached bytes as it is about to map, so resident memory never exceeds what it would be with every
/// buffer unmapped on release. What stays cached after a forward (at most cpu_map_cache_limit) is
/// returned by release().
class MappedBufferCache {
 public:
  /// The process's cache (never destroyed: a tensor released during static destruction may still
  /// give its buffer back).
  static MappedBufferCache& instance() {
    static MappedBufferCache* cache = new MappedBufferCache;
    return *cache;
  }

  /// A cached mapping of exactly `size` bytes (the most recently released), or null after making
  /// room for a new one.
  void* take(std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.rbegin(); it != free_.rend(); ++it)
      if (it->second == size) {
        void* p = it->first;
        held_ -= size;
        free_.erase(std::next(it).base());
        return p;
      }
    for (std::size_t released = 0; !free_.empty() && released < size;) released += unmap_oldest();
    return nullptr;
  }

  /// Keeps a released mapping (the oldest ones unmapped beyond cpu_map_cache_limit).
  void give(void* p, std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (size > cpu_map_cache_limit) {
      ::munmap(p, size);
      return;
    }
    while (!free_.empty() && held_ + size > cpu_map_cache_limit) unmap_oldest();
    free_.emplace_back(p, size);
    held_ += size;
  }

  /// Unmaps every cached mapping; returns the bytes given back.
  std::size_t release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t bytes = held_;
    for (const auto& [p, size] : free_) ::munmap(p, size);
    free_.clear();
    held_ = 0;
    return bytes;
  }

  /// The bytes cached now.
  std::size_t held() {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_;
  }

 private:
  /// Unmaps the oldest cached mapping (the lock held, the cache not empty); returns its bytes.
  std::size_t unmap_oldest() {
    const auto [p, size] = free_.front();
    ::munmap(p, size);
    held_ -= size;
    free_.erase(free_.begin());
    return size;
  }

  std::mutex mutex_;
  std::vector<std::pair<void*, std::size_t>> free_;  ///< oldest first
  std::size_t held_ = 0;
};
#endif

/// Gives the released activation buffers that biqa keeps for reuse back to the system (a process
/// that has finished scoring and stays alive); returns the bytes released. Harmless at any time.
inline std::size_t release_cached_buffers() {
#if defined(__linux__)
  return MappedBufferCache::instance().release();
#else
  return 0;
#endif
}

template <>
struct DeviceAllocator<Cpu> {
  static std::shared_ptr<void> allocate(std::size_t bytes) {
#if defined(__linux__)
    if (bytes >= cpu_map_threshold) return map(bytes, true);
#endif
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
    prepare(p, rounded, huge);
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }

  /// As allocate(), for a buffer that outlives the temporaries around it (a layer's packed weight,
  /// made during its first forward): from 64 KiB on it is mapped on its own, because in the C heap
  /// it would pin the freed memory of the activations allocated before it (DGIQA: 53 MB).
  static std::shared_ptr<void> allocate_long_lived(std::size_t bytes) {
#if defined(__linux__)
    if (bytes >= (std::size_t(64) << 10)) return map(bytes, false);
#endif
    return allocate(bytes);
  }

 private:
  /// A new buffer of `size` bytes: its whole 2 MiB pages advised as huge (when `huge`), then NaN
  /// throughout when poisoning is on.
  static void prepare(void* p, std::size_t size, bool huge) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) ::madvise(p, size / cpu_huge_page * cpu_huge_page, MADV_HUGEPAGE);  // advice only
#else
    (void)huge;
#endif
    poison(p, size);
  }

  /// NaN throughout, when poisoning is on (a new buffer, or a reused one).
  static void poison(void* p, std::size_t size) {
    if (cpu_poison_buffers().load(std::memory_order_relaxed))
      std::fill_n(static_cast<float*>(p), size / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  }

#if defined(__linux__)
  /// A private anonymous mapping placed on a 2 MiB boundary (over-mapped by one huge page, then
  /// the unaligned ends unmapped), rounded to 4 KiB pages, its whole 2 MiB pages advised as huge
  /// (as the heap path: a tail page is not made a resident 2 MiB page). `reuse`: taken from and
  /// given back to the MappedBufferCache (activations); otherwise unmapped on release.
  static std::shared_ptr<void> map(std::size_t bytes, bool reuse) {
    const std::size_t size = (bytes + 4095) / 4096 * 4096;
    if (reuse) {
      MappedBufferCache& cache = MappedBufferCache::instance();
      void* p = cache.take(size);
      if (p)
        poison(p, size);
      else
        p = new_mapping(bytes, size);
      return std::shared_ptr<void>(p, [size](void* q) { MappedBufferCache::instance().give(q, size); });
    }
    void* p = new_mapping(bytes, size);
    return std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size); });
  }

  static void* new_mapping(std::size_t bytes, std::size_t size) {
    void* raw = ::mmap(nullptr, size + cpu_huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) fail(ErrorCode::internal, "out of memory mapping ", bytes, " bytes");
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (start + cpu_huge_page - 1) / cpu_huge_page * cpu_huge_page;
    if (aligned > start) ::munmap(raw, aligned - start);
    const std::uintptr_t end = start + size + cpu_huge_page;
    if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
    void* p = reinterpret_cast<void*>(aligned);
    prepare(p, size, true);
    return p;
  }
#endif
};

}  // namespace biqa

#pragma once
/// @file
/// Context: per-caller execution state (thread count, scratch memory). Models are immutable and
/// shared; each thread that runs a model brings its own Context.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "biqa/core/device.hpp"

namespace biqa {

/// A bump allocator for temporaries. Blocks are kept between reset()s, so a model that runs the
/// same shapes again allocates nothing after the first call.
class ScratchArena {
 public:
  void* allocate(std::size_t bytes) {
    bytes = (bytes + cpu_alignment - 1) / cpu_alignment * cpu_alignment;
    while (block_ < blocks_.size()) {
      Block& b = blocks_[block_];
      if (b.used + bytes <= b.size) {
        void* p = static_cast<char*>(b.memory.get()) + b.used;
        b.used += bytes;
        return p;
      }
      ++block_;
    }
    const std::size_t size = std::max(bytes, next_block_size());
    blocks_.push_back({DeviceAllocator<Cpu>::allocate(size), size, bytes});
    block_ = blocks_.size() - 1;
    return blocks_.back().memory.get();
  }
  template <typename T>
  T* allocate_array(std::size_t n) {
    return static_cast<T*>(allocate(n * sizeof(T)));
  }

  /// Frees everything allocated since the last reset (keeps the blocks).
  void reset() {
    for (auto& b : blocks_) b.used = 0;
    block_ = 0;
  }
  std::size_t capacity() const {
    std::size_t c = 0;
    for (const auto& b : blocks_) c += b.size;
    return c;
  }

 private:
  struct Block {
    std::shared_ptr<void> memory;
    std::size_t size;
    std::size_t used;
  };
  std::size_t next_block_size() const {
    return blocks_.empty() ? std::size_t(1) << 20 : blocks_.back().size * 2;
  }
  std::vector<Block> blocks_;
  std::size_t block_ = 0;
};

struct Context {
  /// Worker threads for the CPU kernels; 0 means one per hardware thread.
  int threads = 1;
  /// Layers that support it (nn::Linear, nn::MultiheadAttention) keep a copy of their weights in
  /// the GEMM kernel's packed layout, made on first use: transformer products get 10-40% faster,
  /// at the cost of that copy (about the size of the Linear weights). Off: weights are used where
  /// they were loaded (zero-copy from a safetensors mapping) and packed per call.
  bool pack_weights = false;
  ScratchArena arena;

  Context() = default;
  explicit Context(int n_threads) : threads(n_threads) {}

  int resolved_threads() const {
    if (threads > 0) return threads;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }
};

}  // namespace biqa

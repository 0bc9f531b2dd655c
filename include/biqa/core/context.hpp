#pragma once
/// @file
/// Context: per-caller execution state (thread count, scratch memory, device choices). Models are
/// immutable and shared; each thread that runs a model brings its own Context.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "biqa/core/device.hpp"
#include "biqa/core/error.hpp"

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

/// Where code that picks its device at run time (the scorers, the CLI's --device) runs the networks.
/// Code written against a tensor type picks it at compile time instead (Tensor<float, Cuda>).
enum class DeviceType { cpu, cuda };

inline const char* device_type_name(DeviceType d) { return d == DeviceType::cuda ? "cuda" : "cpu"; }

/// "cpu" or "cuda".
inline DeviceType parse_device_type(const std::string& name) {
  if (name == "cpu") return DeviceType::cpu;
  if (name == "cuda") return DeviceType::cuda;
  fail(ErrorCode::invalid_argument, "unknown device '", name, "' (cpu or cuda)");
}

/// The arithmetic of the device's products (linear layers, matmul, convolutions and the attention
/// products that go through cuBLAS): inputs stay float32 in memory and the sums are float32; what
/// changes is how cuBLAS may round the inputs to run on tensor cores. PyTorch's counterparts:
/// torch.backends.cuda.matmul.allow_tf32 (tf32), autocast to float16 / bfloat16 (fp16, bf16).
/// The CPU backend always computes in float32.
enum class MatmulPrecision {
  /// float32 throughout (cuBLAS's default): the reference, within 1e-4 of PyTorch's float32.
  fp32,
  /// Inputs rounded to TF32 (10-bit mantissa): about 1e-3 relative error, several times faster on
  /// A100/H100.
  tf32,
  /// Inputs rounded to float16 (10-bit mantissa, range ±65504): about 1e-3 relative error where the
  /// values fit float16's range; fastest on tensor cores.
  fp16,
  /// Inputs rounded to bfloat16 (7-bit mantissa, float32's range): about 1e-2 relative error.
  bf16,
};

inline const char* matmul_precision_name(MatmulPrecision p) {
  switch (p) {
    case MatmulPrecision::tf32: return "tf32";
    case MatmulPrecision::fp16: return "fp16";
    case MatmulPrecision::bf16: return "bf16";
    default: return "fp32";
  }
}

/// "fp32", "tf32", "fp16" or "bf16".
inline MatmulPrecision parse_matmul_precision(const std::string& name) {
  for (MatmulPrecision p : {MatmulPrecision::fp32, MatmulPrecision::tf32, MatmulPrecision::fp16, MatmulPrecision::bf16})
    if (name == matmul_precision_name(p)) return p;
  fail(ErrorCode::invalid_argument, "unknown precision '", name, "' (fp32, tf32, fp16 or bf16)");
}

/// Whether nn::Linear and nn::MultiheadAttention keep their weight matrices in the GEMM kernel's
/// packed layout, made on a layer's first forward on the CPU, or pack them on every call. Packing
/// on every call costs about as much as the product itself when a layer sees few rows (a CLIP tower
/// ran 3× slower that way: docs/performance.md); a kept copy costs memory unless the weight's own
/// pages can be given back.
enum class WeightPacking {
  /// Keep packed the float32 weights borrowed from a memory-mapped weights file, and give their
  /// pages back to the kernel afterwards (re-read from the file if ever read again), so memory does
  /// not grow. Weights held in memory (converted at load, 16-bit) are packed per call.
  automatic,
  /// Keep every float32 weight packed, a second copy for those held in memory.
  always,
  /// Pack on every call: weights are used only where they were loaded.
  never,
};

inline const char* weight_packing_name(WeightPacking p) {
  switch (p) {
    case WeightPacking::always: return "always";
    case WeightPacking::never: return "never";
    default: return "auto";
  }
}

/// "auto", "always" or "never".
inline WeightPacking parse_weight_packing(const std::string& name) {
  if (name == "auto") return WeightPacking::automatic;
  if (name == "always") return WeightPacking::always;
  if (name == "never") return WeightPacking::never;
  fail(ErrorCode::invalid_argument, "unknown weight packing '", name, "' (auto, always or never)");
}

/// The error for a run-time device whose backend this program does not contain: CUDA runs come from
/// a translation unit compiled by nvcc that includes biqa/cuda.cuh (the biqa tool has one when
/// configured with -DBIQA_WITH_CUDA=ON).
[[noreturn]] inline void fail_missing_backend(DeviceType d, const char* what) {
  fail(ErrorCode::unsupported, what, " on ", device_type_name(d), ": this program was built without the ",
       device_type_name(d), " backend (configure with -DBIQA_WITH_CUDA=ON; a CUDA translation unit must include "
       "biqa/cuda.cuh)");
}

/// Set by biqa/cuda.cuh when the program contains the CUDA backend: why no CUDA device can run
/// (an empty string when one can).
inline std::string (*cuda_unavailable_reason)() = nullptr;

/// Fails unless `d` can run here: its backend is in the program and, for CUDA, a device is usable.
/// Run-time entry points (the biqa tool's --device) call it once before any work.
inline void require_device(DeviceType d) {
  if (d == DeviceType::cpu) return;
  if (!cuda_unavailable_reason) fail_missing_backend(d, "--device cuda");
  const std::string why = cuda_unavailable_reason();
  BIQA_CHECK(why.empty(), ErrorCode::unsupported, "--device cuda: no usable CUDA device (", why, ")");
}

struct Context {
  /// Worker threads for the CPU kernels; 0 means one per hardware thread.
  int threads = 1;
  /// Which weights layers keep in the GEMM kernel's packed layout (made on their first forward)
  /// instead of packing them on every call; see WeightPacking.
  WeightPacking weight_packing = WeightPacking::automatic;
  /// The device of run-time dispatch (what the scorers use; see DeviceType).
  DeviceType device = DeviceType::cpu;
  /// CUDA only: how the device's products may round their inputs (MatmulPrecision); float32 by
  /// default.
  MatmulPrecision matmul_precision = MatmulPrecision::fp32;
  /// CUDA only: the cudaStream_t this Context's device work is queued on, as an opaque pointer so
  /// that core/ needs no CUDA header. Null (the default) is CUDA's per-thread default stream. The
  /// stream is the caller's: biqa neither creates nor destroys it, and it must outlive the work.
  /// Device work of a Context with a stream runs inside a cuda::StreamScope (ops/cuda/runtime.cuh),
  /// which the scorers open themselves.
  void* cuda_stream = nullptr;
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

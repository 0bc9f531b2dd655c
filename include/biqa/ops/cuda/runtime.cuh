#pragma once
/// @file
/// The CUDA backend's base: CUDA errors as biqa::Error (with CUDA's own text), device memory for
/// Tensor<T, Cuda> (cudaMalloc, never managed memory), host↔device copies, the device copy behind
/// Tensor<T, Cuda>::contiguous() (any view, broadcast ones included), and the stream the ops
/// run on. Every biqa/ops/cuda header needs nvcc and BIQA_WITH_CUDA (docs/cuda.md); a CPU-only
/// build never includes them.
///
/// Streams: the ops of a thread run on the stream of the innermost live StreamScope, opened from a
/// Context (Context::cuda_stream, the caller's stream), else on cudaStreamPerThread, CUDA's
/// per-thread default stream. A Context belongs to one thread (core/context.hpp), so either way a
/// Context's work is on one stream, and core/ needs no CUDA type.

#if !defined(__CUDACC__)
#error "biqa/ops/cuda/*.cuh are CUDA headers: compile this translation unit with nvcc (BIQA_WITH_CUDA=ON)"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/device.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cuda/bodies/strided.hpp"

namespace biqa {
namespace cuda {

/// Throws biqa::Error (ErrorCode::internal, or unsupported when no usable device or driver is
/// present) naming the call and CUDA's message when `status` is not cudaSuccess.
inline void check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  const bool no_device = status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver ||
                         status == cudaErrorInvalidDevice;
  fail(no_device ? ErrorCode::unsupported : ErrorCode::internal, "CUDA: ", call, " failed: ",
       cudaGetErrorString(status), " (", cudaGetErrorName(status), ")");
}

namespace detail {
inline cudaStream_t& current_stream() {
  thread_local cudaStream_t s = cudaStreamPerThread;
  return s;
}
/// A Context's stream as CUDA's type: its own, or the per-thread default stream.
inline cudaStream_t stream_of(const Context& ctx) {
  return ctx.cuda_stream ? static_cast<cudaStream_t>(ctx.cuda_stream) : cudaStreamPerThread;
}
}  // namespace detail

/// The stream every biqa CUDA op of the calling thread runs on: the innermost StreamScope's, else
/// cudaStreamPerThread.
inline cudaStream_t stream() { return detail::current_stream(); }

/// Queues the calling thread's biqa device work (kernels, cuBLAS products, copies) on a Context's
/// stream until the scope ends, then on the previous stream again. Open it around everything done
/// with a Context whose cuda_stream is set, the copies to and from the device included:
///
///     biqa::Context ctx;
///     ctx.cuda_stream = my_stream;            // a cudaStream_t the application owns
///     biqa::cuda::StreamScope on_stream(ctx);
///     auto y = biqa::to_device<biqa::Cpu>(layer.forward(biqa::to_device<biqa::Cuda>(x), ctx));
///
/// The run-time device entries (the scorers, biqa score --device cuda) open one themselves.
class StreamScope {
 public:
  explicit StreamScope(const Context& ctx) : StreamScope(detail::stream_of(ctx)) {}
  explicit StreamScope(cudaStream_t s) : previous_(detail::current_stream()) {
    detail::current_stream() = s ? s : cudaStreamPerThread;
  }
  ~StreamScope() { detail::current_stream() = previous_; }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

/// Fails unless the calling thread's device work goes to `ctx`'s stream. A Context with its own
/// stream used outside a StreamScope of it would queue its ops there and the rest (copies, views
/// made contiguous, joins) on another stream, unordered: a race, so the device ops refuse it.
inline void require_stream_of(const Context& ctx) {
  BIQA_CHECK(stream() == detail::stream_of(ctx), ErrorCode::invalid_argument,
             "cuda: the device work of a Context runs on its stream (Context::cuda_stream): open a "
             "biqa::cuda::StreamScope(ctx) around it; the calling thread's work is queued on another stream now");
}

/// Number of usable CUDA devices; 0 when there is none or no driver that fits this runtime.
inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // so that the next CUDA call does not report this error
    return 0;
  }
  return n;
}

/// Why there is no device: CUDA's message for cudaGetDeviceCount, empty when a device is present.
inline std::string unavailable_reason() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  (void)cudaGetLastError();
  if (status != cudaSuccess) return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
  return n > 0 ? std::string() : std::string("no CUDA device");
}

/// Waits for the calling thread's stream; reports an error from any op queued on it.
inline void synchronize() { check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

}  // namespace cuda

/// Device memory for Tensor<T, Cuda>: cudaMalloc'd, released with cudaFree when the last tensor
/// handle goes (an error there cannot be reported from a destructor and is dropped).
template <>
struct DeviceAllocator<Cuda> {
  static std::shared_ptr<void> allocate(std::size_t bytes) {
    void* p = nullptr;
    cuda::check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc");
    return std::shared_ptr<void>(p, [](void* q) { (void)cudaFree(q); });
  }
};

namespace cuda {

/// A host tensor copied to the device (made contiguous first).
template <typename T>
Tensor<T, Cuda> to_device(const Tensor<T, Cpu>& host) {
  const Tensor<T, Cpu> src = host.contiguous();
  Tensor<T, Cuda> dst(src.shape());
  const std::size_t bytes = sizeof(T) * static_cast<std::size_t>(src.numel());
  if (bytes) check(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyHostToDevice, stream()), "cudaMemcpyAsync (to device)");
  synchronize();  // the host buffer may go away as soon as this returns
  return dst;
}

/// Launch geometry of a grid-stride loop over n elements. Kernels in these headers are static (or
/// templates): every translation unit that includes them gets its own copy, so a program may
/// include them from several (tests/ops/cuda/test_cuda_headers.cu links two).
inline unsigned blocks_for(std::int64_t n, unsigned threads = 256) {
  const std::int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

/// A grid-stride loop's first index and step for the calling thread.
__device__ inline std::int64_t grid_index() { return blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; }
__device__ inline std::int64_t grid_stride() { return std::int64_t(gridDim.x) * blockDim.x; }

/// Reports a failed kernel launch (bad configuration) at the call that made it.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

namespace detail {
/// The layout of `t` read as a tensor of shape `target` (which it broadcasts to: stride 0 along a
/// stretched or new leading axis), as ops::broadcast_to does on the host.
template <typename T>
bodies::Layout layout_as(const Tensor<T, Cuda>& t, const Shape& target) {
  const int r = target.rank(), tr = t.dim();
  BIQA_CHECK(tr <= r, ErrorCode::invalid_argument, "cuda: cannot broadcast ", t.shape().to_string(), " to the lower-rank ",
             target.to_string());
  bodies::Layout l;
  l.rank = r;
  for (int i = 0; i < r; ++i) {
    l.shape[i] = target[i];
    const int j = tr - r + i;
    if (j < 0) continue;
    BIQA_CHECK(t.size(j) == target[i] || t.size(j) == 1, ErrorCode::invalid_argument, "cuda: cannot broadcast ",
               t.shape().to_string(), " to ", target.to_string());
    l.strides[i] = t.size(j) == target[i] ? t.stride(j) : 0;
  }
  return l;
}
}  // namespace detail

namespace kernels {
template <typename T>
__global__ void gather_strided(const T* src, T* out, bodies::Layout layout, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) out[i] = src[bodies::offset_of(layout, i)];
}
}  // namespace kernels

/// `t` itself when already contiguous, else a row-major copy of it (as t.contiguous()).
template <typename T>
Tensor<T, Cuda> contiguous(const Tensor<T, Cuda>& t) {
  return t.contiguous();
}

}  // namespace cuda

/// Tensor<T, Cuda>::clone() and contiguous(): a gather kernel writes the view in row-major order.
template <>
struct DeviceCopy<Cuda> {
  template <typename T>
  static Tensor<T, Cuda> contiguous_copy(const Tensor<T, Cuda>& t) {
    Tensor<T, Cuda> out(t.shape());
    if (out.numel() == 0) return out;
    cuda::kernels::gather_strided<T><<<cuda::blocks_for(out.numel()), 256, 0, cuda::stream()>>>(
        t.data(), out.data(), cuda::detail::layout_as(t, t.shape()), out.numel());
    cuda::check_launch("contiguous");
    return out;
  }
  /// biqa::to_device<Cuda>(host) and biqa::to_device<Cpu>(device): cuda::to_device and cuda::to_host.
  template <typename T>
  static Tensor<T, Cuda> from_host(const Tensor<T, Cpu>& t);
  template <typename T>
  static Tensor<T, Cpu> to_host(const Tensor<T, Cuda>& t);
};

namespace cuda {

/// A device tensor (any view) copied back to the host in row-major order; waits for the ops queued
/// before it.
template <typename T>
Tensor<T, Cpu> to_host(const Tensor<T, Cuda>& dev_in) {
  const Tensor<T, Cuda> dev = dev_in.contiguous();
  Tensor<T, Cpu> dst(dev.shape());
  const std::size_t bytes = sizeof(T) * static_cast<std::size_t>(dev.numel());
  if (bytes) check(cudaMemcpyAsync(dst.data(), dev.data(), bytes, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync (to host)");
  synchronize();
  return dst;
}

}  // namespace cuda

template <typename T>
Tensor<T, Cuda> DeviceCopy<Cuda>::from_host(const Tensor<T, Cpu>& t) {
  return cuda::to_device(t);
}
template <typename T>
Tensor<T, Cpu> DeviceCopy<Cuda>::to_host(const Tensor<T, Cuda>& t) {
  return cuda::to_host(t);
}

}  // namespace biqa

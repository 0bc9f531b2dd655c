#pragma once
/// @file
/// Linear layers on the device through cuBLAS: y = x·Wᵀ + b with PyTorch's layout (W [N, K]).
/// float32 throughout: the handle keeps cuBLAS's default math mode, which does not use TF32.

#include <cublas_v2.h>

#include <cstdint>
#include <vector>

#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

/// Throws biqa::Error naming the call and cuBLAS's message when `status` is not success.
inline void check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(ErrorCode::internal, "cuBLAS: ", call, " failed: ", cublasGetStatusString(status));
}

/// The calling thread's cuBLAS handle, bound to its stream (cuBLAS handles are not meant to be
/// shared between threads that use them at once).
inline cublasHandle_t blas_handle() {
  struct Handle {
    cublasHandle_t h = nullptr;
    Handle() {
      check(cublasCreate(&h), "cublasCreate");
      check(cublasSetStream(h, stream()), "cublasSetStream");
    }
    ~Handle() { (void)cublasDestroy(h); }
  };
  thread_local Handle handle;
  return handle.h;
}

namespace kernels {
static __global__ void broadcast_rows(const float* bias, float* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bias[i % cols];
}
}  // namespace kernels

/// x [..., K], weight [N, K], bias [N] (optional: undefined) → [..., N].
inline Tensor<float, Cuda> linear(const Tensor<float, Cuda>& x, const Tensor<float, Cuda>& weight,
                                  const Tensor<float, Cuda>& bias) {
  BIQA_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1), ErrorCode::invalid_argument,
             "cuda::linear: input ", x.shape().to_string(), " and weight ", weight.shape().to_string(),
             " do not fit (weight [out, in], in = the input's last axis)");
  detail::require_contiguous(x, "linear");
  detail::require_contiguous(weight, "linear");
  const std::int64_t k = weight.size(1), n = weight.size(0), m = k == 0 ? x.numel() : x.numel() / k;
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == n && bias.is_contiguous()),
             ErrorCode::invalid_argument, "cuda::linear: bias ", bias.shape().to_string(), " for ", n, " outputs");
  BIQA_CHECK(m <= 2147483647 && n <= 2147483647 && k <= 2147483647, ErrorCode::unsupported,
             "cuda::linear: a dimension above 2^31");
  std::vector<std::int64_t> dims(x.shape().begin(), x.shape().end());
  dims.back() = n;
  Tensor<float, Cuda> out{Shape(dims)};
  if (m == 0 || n == 0) return out;
  if (bias.defined()) {
    kernels::broadcast_rows<<<blocks_for(m * n), 256, 0, stream()>>>(bias.data(), out.data(), m, n);
    check_launch("linear (bias)");
  }
  // Row-major y [m, n] is column-major yᵀ [n, m] = W · xᵀ: W is the column-major [k, n] matrix
  // transposed, xᵀ the column-major [k, m] one as it lies.
  const float alpha = 1.0f, beta = bias.defined() ? 1.0f : 0.0f;
  check(cublasSgemm(blas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), &alpha, weight.data(), int(k),
                    x.data(), int(k), &beta, out.data(), int(n)),
        "cublasSgemm");
  return out;
}

}  // namespace biqa::cuda

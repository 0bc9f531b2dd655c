#pragma once
/// @file
/// Products on the device through cuBLAS: linear layers, y = x·Wᵀ + b with PyTorch's layout
/// (W [N, K]), and torch.matmul with broadcast batch axes.
/// float32 by default (cuBLAS's default math mode, which does not use TF32); set_math_mode(tf32)
/// lets the calling thread's products run on tensor cores in TF32 (Context::allow_tf32).

#include <cublas_v2.h>

#include <cstdint>
#include <vector>

#include "biqa/ops/cpu/shape_ops.hpp"
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

/// The arithmetic of cuBLAS's float products: float32, or TF32 on tensor cores (inputs rounded to a
/// 10-bit mantissa, float32 sums: about 1e-3 relative error per product, several times the speed
/// on A100/H100).
enum class MathMode { fp32, tf32 };

/// Sets the calling thread's mode (its handle's cublasSetMathMode) when it differs from the last one.
inline void set_math_mode(MathMode mode) {
  thread_local MathMode current = MathMode::fp32;
  if (mode == current) return;
  check(cublasSetMathMode(blas_handle(), mode == MathMode::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
        "cublasSetMathMode");
  current = mode;
}

namespace kernels {
static __global__ void broadcast_rows(const float* bias, float* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bias[i % cols];
}
}  // namespace kernels

/// x [..., K], weight [N, K], bias [N] (optional: undefined) → [..., N].
inline Tensor<float, Cuda> linear(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight,
                                  const Tensor<float, Cuda>& bias) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1), ErrorCode::invalid_argument,
             "cuda::linear: input ", x.shape().to_string(), " and weight ", weight.shape().to_string(),
             " do not fit (weight [out, in], in = the input's last axis)");
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

namespace detail {
/// `t` [..., r, c] as a contiguous [batch..., r, c] (its batch axes broadcast, copied when they
/// are stretched).
inline Tensor<float, Cuda> batched(const Tensor<float, Cuda>& t, const Shape& batch) {
  std::vector<std::int64_t> dims = batch.to_vector();
  dims.push_back(t.size(-2));
  dims.push_back(t.size(-1));
  const Shape target(dims);
  if (t.shape() == target) return t.contiguous();
  Tensor<float, Cuda> out(target);
  if (out.numel() == 0) return out;
  kernels::gather_strided<float><<<blocks_for(out.numel()), 256, 0, stream()>>>(t.data(), out.data(),
                                                                              layout_as(t, target), out.numel());
  check_launch("matmul (broadcast)");
  return out;
}
}  // namespace detail

/// torch.matmul for operands of rank ≥ 2: [..., M, K] · [..., K, N] → [..., M, N], the batch axes
/// broadcast (ops::matmul on the device); one strided-batched cuBLAS product.
inline Tensor<float, Cuda> matmul(const Tensor<float, Cuda>& a_in, const Tensor<float, Cuda>& b_in) {
  BIQA_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2, ErrorCode::invalid_argument, "cuda::matmul needs operands of rank >= 2, got ",
             a_in.shape().to_string(), " and ", b_in.shape().to_string());
  const std::int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  BIQA_CHECK(b_in.size(-2) == k, ErrorCode::invalid_argument, "cuda::matmul: ", a_in.shape().to_string(), " · ",
             b_in.shape().to_string(), " (inner extents ", k, " and ", b_in.size(-2), ")");
  const Shape batch = ops::broadcast_shapes(Shape(a_in.shape().begin(), a_in.shape().end() - 2),
                                            Shape(b_in.shape().begin(), b_in.shape().end() - 2));
  std::vector<std::int64_t> out_dims = batch.to_vector();
  out_dims.push_back(m);
  out_dims.push_back(n);
  Tensor<float, Cuda> out{Shape(out_dims)};
  const std::int64_t nb = batch.numel();
  if (out.numel() == 0) return out;
  BIQA_CHECK(m <= 2147483647 && n <= 2147483647 && k <= 2147483647 && nb <= 2147483647, ErrorCode::unsupported,
             "cuda::matmul: a dimension above 2^31");
  if (k == 0) {  // an empty sum
    check(cudaMemsetAsync(out.data(), 0, sizeof(float) * static_cast<std::size_t>(out.numel()), stream()), "cudaMemsetAsync");
    return out;
  }
  const Tensor<float, Cuda> a = detail::batched(a_in, batch), b = detail::batched(b_in, batch);
  // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ, both read as they lie.
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemmStridedBatched(blas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), &one, b.data(), int(n),
                                  k * n, a.data(), int(k), m * k, &zero, out.data(), int(n), m * n, int(nb)),
        "cublasSgemmStridedBatched (matmul)");
  return out;
}

}  // namespace biqa::cuda

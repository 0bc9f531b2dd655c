#pragma once
/// @file
/// Products on the device through cuBLAS: linear layers, y = x·Wᵀ + b with PyTorch's layout
/// (W [N, K]), and torch.matmul with broadcast batch axes. Operands and sums are float32; each
/// product takes a MatmulPrecision (core/context.hpp) that lets cuBLAS round the inputs to TF32,
/// float16 or bfloat16 on tensor cores (the dispatch overloads pass Context::matmul_precision).

#include <cublas_v2.h>

#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

/// Throws biqa::Error naming the call and cuBLAS's message when `status` is not success.
inline void check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(ErrorCode::internal, "cuBLAS: ", call, " failed: ", cublasGetStatusString(status));
}

/// The calling thread's cuBLAS handle, bound to the thread's current stream (cuBLAS handles are
/// not meant to be shared between threads that use them at once).
inline cublasHandle_t blas_handle() {
  struct Handle {
    cublasHandle_t h = nullptr;
    cudaStream_t bound = nullptr;
    Handle() { check(cublasCreate(&h), "cublasCreate"); }
    ~Handle() { (void)cublasDestroy(h); }
  };
  thread_local Handle handle;
  if (handle.bound != stream()) {  // a StreamScope changed the stream since the last product
    check(cublasSetStream(handle.h, stream()), "cublasSetStream");
    handle.bound = stream();
  }
  return handle.h;
}

/// cuBLAS's compute type for a precision: float32 sums in every case, the inputs rounded to TF32,
/// float16 or bfloat16 where the precision allows it.
inline cublasComputeType_t compute_type(MatmulPrecision precision) {
  switch (precision) {
    case MatmulPrecision::tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MatmulPrecision::fp16: return CUBLAS_COMPUTE_32F_FAST_16F;
    case MatmulPrecision::bf16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    default: return CUBLAS_COMPUTE_32F;
  }
}

namespace detail {
/// Column-major C [m, n] = alpha·op(A)·op(B) + beta·C on float32 storage, computed as `precision`
/// allows: every product of the backend goes through this or gemm_strided_batched.
inline void gemm(cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc, MatmulPrecision precision,
                 const char* what) {
  check(cublasGemmEx(blas_handle(), op_a, op_b, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                     CUDA_R_32F, ldc, compute_type(precision), CUBLAS_GEMM_DEFAULT),
        what);
}

/// `batches` products as gemm's, the operands `stride_*` floats apart.
inline void gemm_strided_batched(cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, float alpha,
                                 const float* a, int lda, long long stride_a, const float* b, int ldb,
                                 long long stride_b, float beta, float* c, int ldc, long long stride_c, int batches,
                                 MatmulPrecision precision, const char* what) {
  check(cublasGemmStridedBatchedEx(blas_handle(), op_a, op_b, m, n, k, &alpha, a, CUDA_R_32F, lda, stride_a, b,
                                   CUDA_R_32F, ldb, stride_b, &beta, c, CUDA_R_32F, ldc, stride_c, batches,
                                   compute_type(precision), CUBLAS_GEMM_DEFAULT),
        what);
}
}  // namespace detail

namespace kernels {
static __global__ void broadcast_rows(const float* bias, float* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bias[i % cols];
}
}  // namespace kernels

/// x [..., K], weight [N, K], bias [N] (optional: undefined) → [..., N].
inline Tensor<float, Cuda> linear(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight,
                                  const Tensor<float, Cuda>& bias, MatmulPrecision precision = MatmulPrecision::fp32) {
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
  detail::gemm(CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), 1.0f, weight.data(), int(k), x.data(), int(k),
               bias.defined() ? 1.0f : 0.0f, out.data(), int(n), precision, "cublasGemmEx (linear)");
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
inline Tensor<float, Cuda> matmul(const Tensor<float, Cuda>& a_in, const Tensor<float, Cuda>& b_in,
                                  MatmulPrecision precision = MatmulPrecision::fp32) {
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
  detail::gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), 1.0f, b.data(), int(n), k * n,
                               a.data(), int(k), m * k, 0.0f, out.data(), int(n), m * n, int(nb), precision,
                               "cublasGemmStridedBatchedEx (matmul)");
  return out;
}

}  // namespace biqa::cuda

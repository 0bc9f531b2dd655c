#pragma once
/// @file
/// Scaled dot-product attention on the device, softmax(q·kᵀ·scale + mask)·v for [B, H, N, D]
/// tensors, with an optional additive mask (broadcasting to [B, H, N, M]) and causal mask: two strided-batched cuBLAS products around a row softmax. The
/// [B·H, N, M] score matrix is materialised (a fused kernel is still owed, #13).

#include <cmath>
#include <cstdint>
#include <optional>

#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/gemm.cuh"
#include "biqa/ops/cuda/norm.cuh"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

/// q [B, H, N, D], k [B, H, M, D], v [B, H, M, Dv] (any layout) → [B, H, N, Dv]; scale defaults to
/// 1/√D; `mask` (optional, any layout) is added to the scaled logits.
inline Tensor<float, Cuda> scaled_dot_product_attention(const Tensor<float, Cuda>& q_in, const Tensor<float, Cuda>& k_in,
                                                        const Tensor<float, Cuda>& v_in, bool causal = false,
                                                        std::optional<float> scale = std::nullopt,
                                                        const Tensor<float, Cuda>& mask = {}) {
  // cuBLAS reads each head as a dense matrix: views (heads selected from a fused qkv) are copied.
  const Tensor<float, Cuda> q = contiguous(q_in), k = contiguous(k_in), v = contiguous(v_in);
  BIQA_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, ErrorCode::invalid_argument,
             "cuda::scaled_dot_product_attention: q, k, v of rank 4 [B, H, N, D], got ", q.shape().to_string(), ", ",
             k.shape().to_string(), ", ", v.shape().to_string());
  const std::int64_t b = q.size(0), h = q.size(1), n = q.size(2), d = q.size(3), m = k.size(2), dv = v.size(3);
  BIQA_CHECK(k.size(0) == b && v.size(0) == b && k.size(1) == h && v.size(1) == h && k.size(3) == d && v.size(2) == m,
             ErrorCode::invalid_argument, "cuda::scaled_dot_product_attention: q ", q.shape().to_string(), ", k ",
             k.shape().to_string(), " and v ", v.shape().to_string(), " do not agree");
  BIQA_CHECK(b * h <= 2147483647 && n * m <= 2147483647 && d <= 2147483647 && dv <= 2147483647 && b * h * n <= 2147483647,
             ErrorCode::unsupported, "cuda::scaled_dot_product_attention: sizes above 2^31");
  Tensor<float, Cuda> out({b, h, n, dv});
  if (out.numel() == 0) return out;
  const int batches = int(b * h);
  Tensor<float, Cuda> scores({b * h, n, m});
  // Column-major, per batch: scoresᵀ [m, n] = k · qᵀ (k row-major [m, d] read transposed).
  const float alpha = scale ? *scale : 1.0f / std::sqrt(static_cast<float>(d)), zero = 0.0f, one = 1.0f;
  check(cublasSgemmStridedBatched(blas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(m), int(n), int(d), &alpha, k.data(),
                                  int(d), m * d, q.data(), int(d), n * d, &zero, scores.data(), int(m), n * m, batches),
        "cublasSgemmStridedBatched (q·kᵀ)");
  if (mask.defined()) {
    Tensor<float, Cuda> logits = scores.reshape({b, h, n, m});
    detail::binary_inplace<ops::BinaryOp::add>(logits, mask, "scaled_dot_product_attention (mask)");
  }
  kernels::softmax_rows<<<unsigned(b * h * n), kernels::row_threads, 0, stream()>>>(scores.data(), scores.data(), m, n,
                                                                                   causal);
  check_launch("scaled_dot_product_attention (softmax)");
  // outᵀ [dv, n] = vᵀ · pᵀ: v row-major [m, dv] is column-major [dv, m]; p row-major [n, m] is column-major [m, n].
  check(cublasSgemmStridedBatched(blas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, int(dv), int(n), int(m), &one, v.data(),
                                  int(dv), m * dv, scores.data(), int(m), n * m, &zero, out.data(), int(dv), n * dv,
                                  batches),
        "cublasSgemmStridedBatched (p·v)");
  return out;
}

}  // namespace biqa::cuda

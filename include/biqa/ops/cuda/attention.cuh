#pragma once
/// @file
/// Scaled dot-product attention on the device, softmax(q·kᵀ·scale + mask)·v for [B, H, N, D]
/// tensors, with an optional additive mask (broadcasting to [B, H, N, M]) and causal mask. Two
/// ways, with the same results (bodies/attention.hpp states the rules for masked rows):
///
/// - fused (detail::attention_fused): one kernel, flash-attention style. Keys and values are read
///   a chunk at a time into shared memory and folded into an online softmax per query row (float32
///   on CUDA cores); the [N, M] scores are never stored. Head dims up to 128.
/// - materialised (detail::attention_materialised): two strided-batched cuBLAS products around a
///   row softmax, the [B·H, N, M] scores in device memory. Any head dims.
///
/// scaled_dot_product_attention takes the fused kernel when D ≤ 128 and Dv ≤ 128
/// (detail::fused_attention_max_dim), the materialised path otherwise.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "biqa/ops/cuda/bodies/attention.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/gemm.cuh"
#include "biqa/ops/cuda/norm.cuh"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

namespace kernels {

/// The fused kernel's geometry for head dims (D and Dv) padded to Cap: a block takes `rows` query
/// rows of one (batch, head), one per lane, in `groups` warps. Each step stages a chunk of
/// groups·tile keys (k and v, zero past D and Dv) in shared memory; warp g folds keys
/// [g·tile, (g+1)·tile) of it into its own online softmax per row, so that a row's keys are
/// shared by four threads (more threads in flight when B·H·N is small), whose states are merged at
/// the end. The query rows are read from shared memory once per tile (the tile's dots run with the
/// dimension outermost), which leaves the registers to the accumulators.
template <int Cap>
struct FusedAttentionShape {
  static constexpr int rows = 32, groups = 4;
  static constexpr int tile = Cap <= 64 ? 16 : 4;  // at 128, the chunk and the queries within 48 KiB
  static constexpr int chunk = groups * tile;
  static constexpr int threads = rows * groups;
  /// Floats of shared memory for the k and v chunks, reused for the merge (one warp's accumulators
  /// at a time, rows padded to Cap + 1 so that the lanes' rows fall in different banks).
  static constexpr int staged = 2 * chunk * Cap > rows * (Cap + 1) ? 2 * chunk * Cap : rows * (Cap + 1);
};

/// q [BH, N, D], k [BH, M, D], v [BH, M, Dv] contiguous, out [BH, N, Dv]; mask (may be null) read
/// through `mask_layout` as [B, H, N, M]. Block blockIdx.x takes rows [t·rows, (t+1)·rows) of
/// (batch, head) blockIdx.x / row_tiles, t its remainder.
template <int Cap>
__global__ void fused_attention(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                                const float* __restrict__ mask, bodies::Layout mask_layout, float* __restrict__ out,
                                int n, int m, int d, int dv, float scale, bool causal, int row_tiles) {
  using S = FusedAttentionShape<Cap>;
  __shared__ float staged[S::staged];
  __shared__ bodies::OnlineSoftmax merging[S::rows];
  float* const sk = staged;
  float* const sv = staged + S::chunk * Cap;

  const int r = threadIdx.x % S::rows, g = threadIdx.x / S::rows;
  const std::int64_t bh = blockIdx.x / row_tiles;
  const int i0 = (blockIdx.x % row_tiles) * S::rows, i = i0 + r;
  const bool active = i < n;  // lanes past the last row still stage keys and take part in the merge
  const float* kb = k + bh * m * d;
  const float* vb = v + bh * m * dv;

  // The block's query rows, zero past d (the staged keys are too, so the dots run over Cap),
  // transposed: lane r reads word e·rows + r, no bank conflicts. Each warp writes a quarter; all
  // are visible after the first chunk's barriers.
  __shared__ float sq[Cap * S::rows];
  const float* qrow = q + (bh * n + (active ? i : 0)) * d;
  for (int e = g; e < Cap; e += S::groups) sq[e * S::rows + r] = active && e < d ? qrow[e] : 0.0f;
  const float* mrow = nullptr;
  std::int64_t ms = 0;
  if (mask && active) {
    mrow = mask + bodies::offset_of(mask_layout, (bh * n + i) * m);
    ms = mask_layout.strides[3];
  }

  bodies::OnlineSoftmax st;
  float acc[Cap];
  BIQA_ATTENTION_UNROLL
  for (int c = 0; c < Cap; ++c) acc[c] = 0.0f;

  // Causal: no row of the block sees a key past its last row.
  const int key_end = causal ? min(m, min(n, i0 + S::rows)) : m;
  for (int j0 = 0; j0 < key_end; j0 += S::chunk) {
    __syncthreads();  // the previous chunk is consumed
    for (int t = threadIdx.x; t < S::chunk * Cap; t += S::threads) {
      const int j = j0 + t / Cap, e = t % Cap;
      sk[t] = j < m && e < d ? kb[std::int64_t(j) * d + e] : 0.0f;
      sv[t] = j < m && e < dv ? vb[std::int64_t(j) * dv + e] : 0.0f;
    }
    __syncthreads();
    const int first = j0 + g * S::tile;
    int valid = min(S::tile, m - first);
    if (causal) valid = min(valid, i - first + 1);
    if (active && valid > 0)
      bodies::attend_tile(st, acc, sq + r, S::rows, sk + g * S::tile * Cap, Cap, sv + g * S::tile * Cap, Cap, Cap,
                          Cap, S::tile, valid, scale, mrow ? mrow + first * ms : nullptr, ms);
  }

  // The other warps' states merged into warp 0's, one warp at a time.
  for (int from = 1; from < S::groups; ++from) {
    __syncthreads();  // the staged chunk (or the last warp's accumulators) is consumed
    if (g == from) {
      float* to = staged + r * (Cap + 1);
      BIQA_ATTENTION_UNROLL
      for (int c = 0; c < Cap; ++c) to[c] = acc[c];
      merging[r] = st;
    }
    __syncthreads();
    if (g == 0) bodies::online_softmax_merge(st, acc, merging[r], staged + r * (Cap + 1), Cap);
  }
  if (g == 0 && active) bodies::online_softmax_finish(st, acc, Cap, dv, out + (bh * n + i) * dv);
}

}  // namespace kernels

namespace detail {

/// The largest D and Dv the fused kernel takes.
inline constexpr std::int64_t fused_attention_max_dim = 128;

/// q, k, v made contiguous (cuBLAS and the fused kernel read each head as a dense matrix: views,
/// such as heads selected from a fused qkv, are copied), with their checked sizes.
struct AttentionOperands {
  Tensor<float, Cuda> q, k, v;
  std::int64_t b, h, n, d, m, dv;
};

inline AttentionOperands attention_operands(const Tensor<float, Cuda>& q_in, const Tensor<float, Cuda>& k_in,
                                            const Tensor<float, Cuda>& v_in) {
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
  return {q, k, v, b, h, n, d, m, dv};
}

/// scaled_dot_product_attention through the [B·H, N, M] scores: two strided-batched cuBLAS products
/// around a row softmax. Any head dims; the products at `precision`.
inline Tensor<float, Cuda> attention_materialised(const Tensor<float, Cuda>& q_in, const Tensor<float, Cuda>& k_in,
                                                  const Tensor<float, Cuda>& v_in, bool causal = false,
                                                  std::optional<float> scale = std::nullopt,
                                                  const Tensor<float, Cuda>& mask = {},
                                                  MatmulPrecision precision = MatmulPrecision::fp32) {
  const auto& [q, k, v, b, h, n, d, m, dv] = attention_operands(q_in, k_in, v_in);
  Tensor<float, Cuda> out({b, h, n, dv});
  if (out.numel() == 0) return out;
  const int batches = int(b * h);
  Tensor<float, Cuda> scores({b * h, n, m});
  // Column-major, per batch: scoresᵀ [m, n] = k · qᵀ (k row-major [m, d] read transposed).
  const float alpha = scale ? *scale : 1.0f / std::sqrt(static_cast<float>(d));
  gemm_strided_batched(CUBLAS_OP_T, CUBLAS_OP_N, int(m), int(n), int(d), alpha, k.data(), int(d), m * d, q.data(),
                       int(d), n * d, 0.0f, scores.data(), int(m), n * m, batches, precision,
                       "cublasGemmStridedBatchedEx (q·kᵀ)");
  if (mask.defined()) {
    Tensor<float, Cuda> logits = scores.reshape({b, h, n, m});
    detail::binary_inplace<ops::BinaryOp::add>(logits, mask, "scaled_dot_product_attention (mask)");
  }
  kernels::softmax_rows<<<unsigned(b * h * n), kernels::row_threads, 0, stream()>>>(scores.data(), scores.data(), m, n,
                                                                                   causal);
  check_launch("scaled_dot_product_attention (softmax)");
  // outᵀ [dv, n] = vᵀ · pᵀ: v row-major [m, dv] is column-major [dv, m]; p row-major [n, m] is column-major [m, n].
  gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_N, int(dv), int(n), int(m), 1.0f, v.data(), int(dv), m * dv,
                       scores.data(), int(m), n * m, 0.0f, out.data(), int(dv), n * dv, batches, precision,
                       "cublasGemmStridedBatchedEx (p·v)");
  return out;
}

template <int Cap>
void launch_fused_attention(const AttentionOperands& a, const float* mask, const bodies::Layout& mask_layout,
                            float* out, float scale, bool causal) {
  using S = kernels::FusedAttentionShape<Cap>;
  const std::int64_t row_tiles = (a.n + S::rows - 1) / S::rows, blocks = a.b * a.h * row_tiles;
  BIQA_CHECK(blocks <= 2147483647, ErrorCode::unsupported, "cuda::scaled_dot_product_attention: ", blocks,
             " thread blocks, above 2^31");
  kernels::fused_attention<Cap><<<unsigned(blocks), S::threads, 0, stream()>>>(
      a.q.data(), a.k.data(), a.v.data(), mask, mask_layout, out, int(a.n), int(a.m), int(a.d), int(a.dv), scale,
      causal, int(row_tiles));
  check_launch("scaled_dot_product_attention (fused)");
}

/// scaled_dot_product_attention in one kernel (kernels::fused_attention): D and Dv up to
/// fused_attention_max_dim, the kernel instantiated for head dims padded to 32, 64 or 128.
inline Tensor<float, Cuda> attention_fused(const Tensor<float, Cuda>& q_in, const Tensor<float, Cuda>& k_in,
                                           const Tensor<float, Cuda>& v_in, bool causal = false,
                                           std::optional<float> scale = std::nullopt,
                                           const Tensor<float, Cuda>& mask = {}) {
  const AttentionOperands a = attention_operands(q_in, k_in, v_in);
  BIQA_CHECK(a.d <= fused_attention_max_dim && a.dv <= fused_attention_max_dim, ErrorCode::unsupported,
             "cuda::detail::attention_fused: head dims up to ", fused_attention_max_dim, ", got D = ", a.d,
             " and Dv = ", a.dv);
  const bodies::Layout mask_layout = mask.defined() ? layout_as(mask, Shape{a.b, a.h, a.n, a.m}) : bodies::Layout{};
  Tensor<float, Cuda> out({a.b, a.h, a.n, a.dv});
  if (out.numel() == 0) return out;
  if (a.m == 0) {  // no keys: an empty softmax times an empty v, 0 as in PyTorch
    check(cudaMemsetAsync(out.data(), 0, sizeof(float) * static_cast<std::size_t>(out.numel()), stream()),
          "cudaMemsetAsync (attention without keys)");
    return out;
  }
  const float s = scale ? *scale : 1.0f / std::sqrt(static_cast<float>(a.d));
  const float* mp = mask.defined() ? mask.data() : nullptr;
  const std::int64_t dims = std::max(a.d, a.dv);
  if (dims <= 32) launch_fused_attention<32>(a, mp, mask_layout, out.data(), s, causal);
  else if (dims <= 64) launch_fused_attention<64>(a, mp, mask_layout, out.data(), s, causal);
  else launch_fused_attention<128>(a, mp, mask_layout, out.data(), s, causal);
  return out;
}

}  // namespace detail

/// q [B, H, N, D], k [B, H, M, D], v [B, H, M, Dv] (any layout) → [B, H, N, Dv]; scale defaults to
/// 1/√D; `mask` (optional, any layout) is added to the scaled logits. The fused kernel when D ≤ 128
/// and Dv ≤ 128 (float32 whatever the precision), else the materialised scores, whose products run
/// at `precision` (see the file's comment).
inline Tensor<float, Cuda> scaled_dot_product_attention(const Tensor<float, Cuda>& q_in, const Tensor<float, Cuda>& k_in,
                                                        const Tensor<float, Cuda>& v_in, bool causal = false,
                                                        std::optional<float> scale = std::nullopt,
                                                        const Tensor<float, Cuda>& mask = {},
                                                        MatmulPrecision precision = MatmulPrecision::fp32) {
  const bool fits = q_in.dim() == 4 && v_in.dim() == 4 && q_in.size(3) <= detail::fused_attention_max_dim &&
                    v_in.size(3) <= detail::fused_attention_max_dim;
  return fits ? detail::attention_fused(q_in, k_in, v_in, causal, scale, mask)
              : detail::attention_materialised(q_in, k_in, v_in, causal, scale, mask, precision);
}

}  // namespace biqa::cuda

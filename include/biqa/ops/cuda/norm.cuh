#pragma once
/// @file
/// Row-wise ops over the last axis of a contiguous device tensor, one thread block per row:
/// softmax (max-shifted, as ops::softmax) and LayerNorm (biased variance, as torch.nn.LayerNorm).

#include <cmath>
#include <cstdint>

#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

namespace kernels {
inline constexpr int row_threads = 256;

/// The block-wide reduction of `v` (sum or max); every thread gets the result.
template <bool Max>
__device__ float block_reduce(float v, float* shared) {
  for (int off = 16; off > 0; off /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = Max ? fmaxf(v, o) : v + o;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? shared[lane] : (Max ? -INFINITY : 0.0f);
    for (int off = 16; off > 0; off /= 2) {
      const float o = __shfl_xor_sync(0xffffffffu, v, off);
      v = Max ? fmaxf(v, o) : v + o;
    }
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();  // shared[] is reused by the next reduction
  return v;
}

/// Softmax of row blockIdx.x of x [rows, cols] into out (may be x itself: each element is read
/// and written by one thread). Under `causal`, row r is query r % queries and keys after it are
/// blocked (attention's causal mask).
static __global__ void softmax_rows(const float* x, float* out, std::int64_t cols, std::int64_t queries = 1,
                                    bool causal = false) {
  __shared__ float shared[32];
  const float* in = x + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  const std::int64_t last = causal ? static_cast<std::int64_t>(blockIdx.x % queries) : cols - 1;
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j <= last && j < cols; j += blockDim.x) mx = fmaxf(mx, in[j]);
  mx = block_reduce<true>(mx, shared);
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float e = j <= last ? expf(in[j] - mx) : 0.0f;
    o[j] = e;
    sum += e;
  }
  sum = block_reduce<false>(sum, shared);
  const float inv = 1.0f / sum;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) o[j] *= inv;
}

static __global__ void layer_norm_rows(const float* x, const float* weight, const float* bias, float* out,
                                std::int64_t cols, float eps) {
  __shared__ float shared[32];
  const float* in = x + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  float s = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += in[j];
  const float mean = block_reduce<false>(s, shared) / float(cols);
  float ss = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float d = in[j] - mean;
    ss += d * d;
  }
  const float rstd = rsqrtf(block_reduce<false>(ss, shared) / float(cols) + eps);
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = (in[j] - mean) * rstd;
    if (weight) v *= weight[j];
    if (bias) v += bias[j];
    o[j] = v;
  }
}
}  // namespace kernels

namespace detail {
inline std::int64_t rows_of(const Tensor<float, Cuda>& x) { return x.dim() == 0 || x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }
}  // namespace detail

/// softmax over the last axis.
inline Tensor<float, Cuda> softmax(const Tensor<float, Cuda>& x) {
  BIQA_CHECK(x.dim() >= 1, ErrorCode::invalid_argument, "cuda::softmax: a tensor of rank >= 1");
  detail::require_contiguous(x, "softmax");
  Tensor<float, Cuda> out(x.shape());
  const std::int64_t rows = detail::rows_of(x);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::softmax: more than 2^31 rows");
  if (rows == 0) return out;
  kernels::softmax_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(x.data(), out.data(), x.size(-1));
  check_launch("softmax");
  return out;
}

/// LayerNorm over the last axis; weight and bias [C] may be undefined (no affine part).
inline Tensor<float, Cuda> layer_norm(const Tensor<float, Cuda>& x, const Tensor<float, Cuda>& weight,
                                      const Tensor<float, Cuda>& bias, float eps = 1e-5f) {
  BIQA_CHECK(x.dim() >= 1, ErrorCode::invalid_argument, "cuda::layer_norm: a tensor of rank >= 1");
  detail::require_contiguous(x, "layer_norm");
  const std::int64_t c = x.size(-1);
  for (const auto* p : {&weight, &bias})
    BIQA_CHECK(!p->defined() || (p->dim() == 1 && p->size(0) == c && p->is_contiguous()), ErrorCode::invalid_argument,
               "cuda::layer_norm: weight and bias must be [", c, "], got ", p->shape().to_string());
  Tensor<float, Cuda> out(x.shape());
  const std::int64_t rows = detail::rows_of(x);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::layer_norm: more than 2^31 rows");
  if (rows == 0) return out;
  kernels::layer_norm_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(
      x.data(), weight.defined() ? weight.data() : nullptr, bias.defined() ? bias.data() : nullptr, out.data(), c, eps);
  check_launch("layer_norm");
  return out;
}

}  // namespace biqa::cuda

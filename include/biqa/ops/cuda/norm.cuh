#pragma once
/// @file
/// Normalisations of device tensors. Row-wise, one thread block per row: softmax and log_softmax
/// along any axis (max-shifted, as ops::softmax), LayerNorm (biased variance, as
/// torch.nn.LayerNorm), RMSNorm, and GroupNorm (a row is one sample's group of channels). Per
/// channel: eval-mode BatchNorm (bodies::batch_norm_scale_shift, as ops::batch_norm).

#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/ops/cuda/bodies/norm.hpp"
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

/// Normalises row blockIdx.x of x [rows, cols] with its own mean and (biased) variance, then
/// applies weight and bias (either may be null). LayerNorm: element j takes weight[j] (channel
/// `channel_size` = 1, `channels` = cols). GroupNorm: a row is a group of `channels` channels of
/// `channel_size` positions each, the group being row % groups.
static __global__ void normalize_rows(const float* x, const float* weight, const float* bias, float* out,
                                      std::int64_t cols, float eps, std::int64_t channel_size = 1,
                                      std::int64_t channels = 0, std::int64_t groups = 1) {
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
  const std::int64_t first_channel = (blockIdx.x % groups) * channels;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const std::int64_t ch = channel_size == 1 && groups == 1 ? j : first_channel + j / channel_size;
    float v = (in[j] - mean) * rstd;
    if (weight) v *= weight[ch];
    if (bias) v += bias[ch];
    o[j] = v;
  }
}

/// log_softmax of row blockIdx.x: x − (max + log Σ exp(x − max)).
static __global__ void log_softmax_rows(const float* x, float* out, std::int64_t cols) {
  __shared__ float shared[32];
  const float* in = x + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) mx = fmaxf(mx, in[j]);
  mx = block_reduce<true>(mx, shared);
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(in[j] - mx);
  const float lse = mx + logf(block_reduce<false>(sum, shared));
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) o[j] = in[j] - lse;
}

/// RMSNorm of row blockIdx.x: x / sqrt(mean(x²) + eps) · weight (weight may be null).
static __global__ void rms_norm_rows(const float* x, const float* weight, float* out, std::int64_t cols, float eps) {
  __shared__ float shared[32];
  const float* in = x + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  float ss = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) ss += in[j] * in[j];
  const float inv = rsqrtf(block_reduce<false>(ss, shared) / float(cols) + eps);
  for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) o[j] = weight ? in[j] * inv * weight[j] : in[j] * inv;
}

static __global__ void batch_norm(const float* x, const float* mean, const float* var, const float* weight,
                                  const float* bias, float* out, std::int64_t n, std::int64_t channels,
                                  std::int64_t spatial, float eps) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    float scale, shift;
    bodies::batch_norm_scale_shift(mean, var, weight, bias, eps, (i / spatial) % channels, scale, shift);
    out[i] = x[i] * scale + shift;
  }
}
}  // namespace kernels

namespace detail {
inline std::int64_t rows_of(const Tensor<float, Cuda>& x) { return x.dim() == 0 || x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }
inline std::vector<int> inverse_permutation(const std::vector<int>& order) {
  std::vector<int> inverse(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) inverse[static_cast<std::size_t>(order[i])] = static_cast<int>(i);
  return inverse;
}

/// Runs a row kernel (`launch(in, out, rows, cols)`) over `axis`: the axis is moved last (a copy)
/// when it is not already, and moved back afterwards.
template <typename Launch>
Tensor<float, Cuda> along_axis(const Tensor<float, Cuda>& x_in, int axis, const char* name, Launch launch) {
  BIQA_CHECK(x_in.dim() >= 1, ErrorCode::invalid_argument, "cuda::", name, ": a tensor of rank >= 1");
  const int r = x_in.dim(), a = x_in.shape().normalize_axis(axis);
  std::vector<int> order;
  for (int i = 0; i < r; ++i)
    if (i != a) order.push_back(i);
  order.push_back(a);
  const Tensor<float, Cuda> x = contiguous(a == r - 1 ? x_in : x_in.permute(order));
  Tensor<float, Cuda> out(x.shape());
  const std::int64_t rows = rows_of(x);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::", name, ": more than 2^31 rows");
  if (rows == 0) return a == r - 1 ? out : contiguous(out.permute(inverse_permutation(order)));
  launch(x.data(), out.data(), rows, x.size(-1));
  check_launch(name);
  return a == r - 1 ? out : contiguous(out.permute(inverse_permutation(order)));
}
}  // namespace detail

/// softmax along `axis` (ops::softmax on the device).
inline Tensor<float, Cuda> softmax(const Tensor<float, Cuda>& x, int axis = -1) {
  return detail::along_axis(x, axis, "softmax", [](const float* in, float* out, std::int64_t rows, std::int64_t cols) {
    kernels::softmax_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(in, out, cols);
  });
}

/// log(softmax(x)) along `axis`, without forming the softmax.
inline Tensor<float, Cuda> log_softmax(const Tensor<float, Cuda>& x, int axis = -1) {
  return detail::along_axis(x, axis, "log_softmax", [](const float* in, float* out, std::int64_t rows, std::int64_t cols) {
    kernels::log_softmax_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(in, out, cols);
  });
}

/// RMSNorm over the last axis (weight [C] may be undefined).
inline Tensor<float, Cuda> rms_norm(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight, float eps = 1e-6f) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() >= 1, ErrorCode::invalid_argument, "cuda::rms_norm of a scalar");
  const std::int64_t c = x.size(-1);
  detail::require_channel_param("rms_norm", weight, c, "weight");
  Tensor<float, Cuda> out(x.shape());
  const std::int64_t rows = detail::rows_of(x);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::rms_norm: more than 2^31 rows");
  if (rows == 0) return out;
  kernels::rms_norm_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(
      x.data(), detail::data_or_null(weight), out.data(), c, eps);
  check_launch("rms_norm");
  return out;
}

/// LayerNorm over the last axis; weight and bias [C] may be undefined (no affine part).
inline Tensor<float, Cuda> layer_norm(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight,
                                      const Tensor<float, Cuda>& bias, float eps = 1e-5f) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() >= 1, ErrorCode::invalid_argument, "cuda::layer_norm: a tensor of rank >= 1");
  const std::int64_t c = x.size(-1);
  detail::require_channel_param("layer_norm", weight, c, "weight");
  detail::require_channel_param("layer_norm", bias, c, "bias");
  Tensor<float, Cuda> out(x.shape());
  const std::int64_t rows = detail::rows_of(x);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::layer_norm: more than 2^31 rows");
  if (rows == 0) return out;
  kernels::normalize_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(
      x.data(), detail::data_or_null(weight), detail::data_or_null(bias), out.data(), c, eps);
  check_launch("layer_norm");
  return out;
}

/// GroupNorm on x [N, C, *]: statistics per sample over each group of C / num_groups channels and
/// all positions; weight and bias [C] may be undefined.
inline Tensor<float, Cuda> group_norm(const Tensor<float, Cuda>& x_in, std::int64_t num_groups,
                                      const Tensor<float, Cuda>& weight, const Tensor<float, Cuda>& bias,
                                      float eps = 1e-5f) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() >= 2, ErrorCode::invalid_argument, "cuda::group_norm needs [N, C, ...], got ",
             x.shape().to_string());
  const std::int64_t batch = x.size(0), channels = x.size(1);
  BIQA_CHECK(num_groups > 0 && channels % num_groups == 0, ErrorCode::invalid_argument, "cuda::group_norm: ",
             channels, " channels do not split into ", num_groups, " groups");
  detail::require_channel_param("group_norm", weight, channels, "weight");
  detail::require_channel_param("group_norm", bias, channels, "bias");
  Tensor<float, Cuda> out(x.shape());
  if (x.numel() == 0) return out;
  const std::int64_t rows = batch * num_groups, per_group = channels / num_groups;
  const std::int64_t spatial = x.numel() / (batch * channels);
  BIQA_CHECK(rows <= 2147483647, ErrorCode::unsupported, "cuda::group_norm: more than 2^31 groups");
  kernels::normalize_rows<<<unsigned(rows), kernels::row_threads, 0, stream()>>>(
      x.data(), detail::data_or_null(weight), detail::data_or_null(bias), out.data(), per_group * spatial, eps,
      spatial, per_group, num_groups);
  check_launch("group_norm");
  return out;
}

/// BatchNorm in eval mode on x [N, C, *] with the running statistics; weight and bias may be
/// undefined.
inline Tensor<float, Cuda> batch_norm(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& running_mean,
                                      const Tensor<float, Cuda>& running_var, const Tensor<float, Cuda>& weight,
                                      const Tensor<float, Cuda>& bias, float eps = 1e-5f) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() >= 2, ErrorCode::invalid_argument, "cuda::batch_norm needs [N, C, ...], got ",
             x.shape().to_string());
  const std::int64_t channels = x.size(1);
  BIQA_CHECK(running_mean.defined() && running_var.defined(), ErrorCode::invalid_argument,
             "cuda::batch_norm needs running statistics");
  detail::require_channel_param("batch_norm", running_mean, channels, "running_mean");
  detail::require_channel_param("batch_norm", running_var, channels, "running_var");
  detail::require_channel_param("batch_norm", weight, channels, "weight");
  detail::require_channel_param("batch_norm", bias, channels, "bias");
  Tensor<float, Cuda> out(x.shape());
  if (x.numel() == 0) return out;
  const std::int64_t spatial = x.numel() / (x.size(0) * channels);
  kernels::batch_norm<<<blocks_for(x.numel()), 256, 0, stream()>>>(
      x.data(), running_mean.data(), running_var.data(), detail::data_or_null(weight), detail::data_or_null(bias),
      out.data(), x.numel(), channels, spatial, eps);
  check_launch("batch_norm");
  return out;
}

}  // namespace biqa::cuda

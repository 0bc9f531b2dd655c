#pragma once
/// @file
/// 2-d pooling of NCHW device tensors with PyTorch's semantics (ops/cpu/pool.hpp):
/// max (dilation, ceil_mode, NaN wins), average (count_include_pad, divisor_override) and
/// adaptive average. One thread per output runs the bodies in ops/cuda/bodies/pool.hpp; the
/// geometry and its checks are ops::detail::pool_geometry, shared with the CPU.

#include <cstdint>

#include "biqa/ops/cuda/bodies/pool.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/options.hpp"

namespace biqa::cuda {

using ops::Pool2dOptions;

namespace kernels {
static __global__ void max_pool2d(const float* x, float* out, ops::detail::PoolGeometry g) {
  const std::int64_t plane = g.oh * g.ow, n = g.n * g.c * plane;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t p = i / plane, yx = i % plane;
    out[i] = bodies::max_pool_value(x + p * g.h * g.w, g, yx / g.ow, yx % g.ow);
  }
}
static __global__ void avg_pool2d(const float* x, float* out, ops::detail::PoolGeometry g, bool count_include_pad,
                                  std::int64_t divisor) {
  const std::int64_t plane = g.oh * g.ow, n = g.n * g.c * plane;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t p = i / plane, yx = i % plane;
    out[i] = bodies::avg_pool_value(x + p * g.h * g.w, g, yx / g.ow, yx % g.ow, count_include_pad, divisor);
  }
}
static __global__ void adaptive_avg_pool2d(const float* x, float* out, std::int64_t planes, std::int64_t h,
                                           std::int64_t w, std::int64_t oh, std::int64_t ow) {
  const std::int64_t plane = oh * ow, n = planes * plane;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t p = i / plane, yx = i % plane;
    out[i] = bodies::adaptive_avg_pool_value(x + p * h * w, h, w, oh, ow, yx / ow, yx % ow);
  }
}
}  // namespace kernels

inline Tensor<float, Cuda> max_pool2d(const Tensor<float, Cuda>& x_in, const Pool2dOptions& opt) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  const auto g = ops::detail::pool_geometry("cuda::max_pool2d", x.shape(), opt, true);
  Tensor<float, Cuda> out({g.n, g.c, g.oh, g.ow});
  if (out.numel() == 0) return out;
  kernels::max_pool2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(x.data(), out.data(), g);
  check_launch("max_pool2d");
  return out;
}

inline Tensor<float, Cuda> avg_pool2d(const Tensor<float, Cuda>& x_in, const Pool2dOptions& opt) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  const auto g = ops::detail::pool_geometry("cuda::avg_pool2d", x.shape(), opt, false);
  BIQA_CHECK(!opt.divisor_override || *opt.divisor_override != 0, ErrorCode::invalid_argument,
             "cuda::avg_pool2d: divisor_override must not be zero");
  Tensor<float, Cuda> out({g.n, g.c, g.oh, g.ow});
  if (out.numel() == 0) return out;
  kernels::avg_pool2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(x.data(), out.data(), g, opt.count_include_pad,
                                                                    opt.divisor_override.value_or(0));
  check_launch("avg_pool2d");
  return out;
}

/// Adaptive average pooling to (out_h, out_w).
inline Tensor<float, Cuda> adaptive_avg_pool2d(const Tensor<float, Cuda>& x_in, std::int64_t out_h, std::int64_t out_w) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "cuda::adaptive_avg_pool2d needs input [N, C, H, W], got ",
             x.shape().to_string());
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument,
             "cuda::adaptive_avg_pool2d: output size must be positive, got ", out_h, "x", out_w);
  BIQA_CHECK(x.size(2) > 0 && x.size(3) > 0, ErrorCode::invalid_argument, "cuda::adaptive_avg_pool2d of an empty input ",
             x.shape().to_string());
  Tensor<float, Cuda> out({x.size(0), x.size(1), out_h, out_w});
  if (out.numel() == 0) return out;
  kernels::adaptive_avg_pool2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(
      x.data(), out.data(), x.size(0) * x.size(1), x.size(2), x.size(3), out_h, out_w);
  check_launch("adaptive_avg_pool2d");
  return out;
}

}  // namespace biqa::cuda

#pragma once
/// @file
/// Resizing of NCHW device tensors (F.interpolate: nearest, nearest-exact, bilinear,
/// bicubic, align_corners, scale factors, antialias). The per-axis tap tables are the CPU's
/// (ops/resample_table.hpp), computed on the host and copied to the device; one thread per output
/// runs bodies::resample_value.

#include <cmath>
#include <cstdint>
#include <optional>

#include "biqa/ops/cuda/bodies/resample.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/options.hpp"
#include "biqa/ops/resample_table.hpp"

namespace biqa::cuda {

using ops::InterpolateMode;
using ops::InterpolateOptions;

namespace kernels {
static __global__ void resample(const float* x, float* out, std::int64_t planes, std::int64_t h, std::int64_t w,
                                std::int64_t oh, std::int64_t ow, bodies::AxisTaps th, bodies::AxisTaps tw) {
  const std::int64_t plane = oh * ow, n = planes * plane;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t p = i / plane, yx = i % plane;
    out[i] = bodies::resample_value(x + p * h * w, w, th, tw, yx / ow, yx % ow);
  }
}
}  // namespace kernels

namespace detail {
/// One axis's table on the device (the tensors own the memory the AxisTaps point into).
struct DeviceTaps {
  Tensor<std::int64_t, Cuda> index;
  Tensor<float, Cuda> weight;
  bodies::AxisTaps view(std::int64_t taps) const { return {index.data(), weight.data(), taps}; }
};
inline DeviceTaps upload(const ops::detail::ResampleTable& t) {
  const Shape shape{static_cast<std::int64_t>(t.index.size())};
  return {to_device(Tensor<std::int64_t>::from_vector(shape, t.index)), to_device(Tensor<float>::from_vector(shape, t.weight))};
}

inline Tensor<float, Cuda> resample(const Tensor<float, Cuda>& x_in, std::int64_t out_h, std::int64_t out_w,
                                    std::optional<double> scale_h, std::optional<double> scale_w,
                                    const InterpolateOptions& opt) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "cuda::interpolate needs input [N, C, H, W], got ",
             x.shape().to_string());
  const bool nearest = opt.mode == InterpolateMode::nearest || opt.mode == InterpolateMode::nearest_exact;
  BIQA_CHECK(!nearest || (!opt.align_corners && !opt.antialias), ErrorCode::invalid_argument,
             "cuda::interpolate: align_corners and antialias apply to bilinear and bicubic only");
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument, "cuda::interpolate: output size ", out_h, "x",
             out_w, " must be positive");
  const std::int64_t h = x.size(2), w = x.size(3);
  BIQA_CHECK(h > 0 && w > 0, ErrorCode::invalid_argument, "cuda::interpolate of an empty input ",
             x.shape().to_string());
  const ops::detail::ResampleTable th = ops::detail::resample_table(h, out_h, opt, scale_h);
  const ops::detail::ResampleTable tw = ops::detail::resample_table(w, out_w, opt, scale_w);
  Tensor<float, Cuda> out({x.size(0), x.size(1), out_h, out_w});
  if (out.numel() == 0) return out;
  const DeviceTaps dh = upload(th), dw = upload(tw);
  kernels::resample<<<blocks_for(out.numel()), 256, 0, stream()>>>(x.data(), out.data(), x.size(0) * x.size(1), h, w,
                                                                  out_h, out_w, dh.view(th.taps), dw.view(tw.taps));
  check_launch("interpolate");
  synchronize();  // the tables are freed when this returns
  return out;
}
}  // namespace detail

/// Resizes x [N, C, H, W] to [N, C, out_h, out_w] (ops::interpolate on the device).
inline Tensor<float, Cuda> interpolate(const Tensor<float, Cuda>& x, std::int64_t out_h, std::int64_t out_w,
                                       const InterpolateOptions& opt = {}) {
  return detail::resample(x, out_h, out_w, std::nullopt, std::nullopt, opt);
}

/// F.interpolate(x, scale_factor=(scale_h, scale_w)) as ops::interpolate_by_scale.
inline Tensor<float, Cuda> interpolate_by_scale(const Tensor<float, Cuda>& x, double scale_h, double scale_w,
                                                const InterpolateOptions& opt = {}) {
  BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "cuda::interpolate needs input [N, C, H, W], got ",
             x.shape().to_string());
  BIQA_CHECK(scale_h > 0 && scale_w > 0, ErrorCode::invalid_argument, "cuda::interpolate: scale factors must be positive");
  const auto out_h = static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(2)) * scale_h));
  const auto out_w = static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(3)) * scale_w));
  return detail::resample(x, out_h, out_w, scale_h, scale_w, opt);
}

}  // namespace biqa::cuda

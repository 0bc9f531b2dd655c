#pragma once
/// @file
/// Resizing of NCHW tensors with the semantics of torch.nn.functional.interpolate: nearest,
/// nearest-exact, bilinear and bicubic (A = −0.75, border-clamped taps), align_corners, explicit
/// scale factors (which drive the coordinate mapping, as in PyTorch when a scale_factor is passed),
/// and antialias=True (PyTorch's separable filter: triangle / cubic with A = −0.5, widened by the
/// scale when downsampling, truncated at the borders and renormalised). Coordinates are computed
/// in float32 as PyTorch does for float inputs, so tap positions agree at the boundaries.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"
#include "biqa/ops/resample_table.hpp"

namespace biqa::ops {

namespace detail {

inline Tensor<float> resample(const Tensor<float>& x_in, std::int64_t out_h, std::int64_t out_w,
                              std::optional<double> scale_h, std::optional<double> scale_w,
                              Context& ctx, const InterpolateOptions& opt) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument, "interpolate needs input [N, C, H, W], got ",
             x_in.shape().to_string());
  const bool nearest = opt.mode == InterpolateMode::nearest || opt.mode == InterpolateMode::nearest_exact;
  BIQA_CHECK(!nearest || (!opt.align_corners && !opt.antialias), ErrorCode::invalid_argument,
             "interpolate: align_corners and antialias apply to bilinear and bicubic only");
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument, "interpolate: output size ", out_h,
             "x", out_w, " must be positive");
  const std::int64_t n = x_in.size(0), c = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  BIQA_CHECK(h > 0 && w > 0, ErrorCode::invalid_argument, "interpolate of an empty input ",
             x_in.shape().to_string());
  const Tensor<float> x = x_in.contiguous();
  const ResampleTable th = resample_table(h, out_h, opt, scale_h);
  const ResampleTable tw = resample_table(w, out_w, opt, scale_w);
  Tensor<float> out({n, c, out_h, out_w});
  // Width pass into a per-plane buffer, then the height pass.
  parallel_for(ctx, n * c, 1, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<float> tmp(static_cast<std::size_t>(h * out_w));
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x.data() + p * h * w;
      float* dst = out.data() + p * out_h * out_w;
      for (std::int64_t y = 0; y < h; ++y) {
        const float* row = src + y * w;
        for (std::int64_t ox = 0; ox < out_w; ++ox) {
          float acc = 0.0f;
          for (std::int64_t k = 0; k < tw.taps; ++k) {
            const auto i = static_cast<std::size_t>(ox * tw.taps + k);
            acc += tw.weight[i] * row[tw.index[i]];
          }
          tmp[static_cast<std::size_t>(y * out_w + ox)] = acc;
        }
      }
      for (std::int64_t oy = 0; oy < out_h; ++oy) {
        float* drow = dst + oy * out_w;
        std::fill_n(drow, out_w, 0.0f);
        for (std::int64_t k = 0; k < th.taps; ++k) {
          const auto i = static_cast<std::size_t>(oy * th.taps + k);
          const float wgt = th.weight[i];
          if (wgt == 0.0f) continue;
          const float* trow = tmp.data() + th.index[i] * out_w;
          for (std::int64_t ox = 0; ox < out_w; ++ox) drow[ox] += wgt * trow[ox];
        }
      }
    }
  });
  return out;
}

}  // namespace detail

/// Resizes x [N, C, H, W] to [N, C, out_h, out_w] (F.interpolate(x, size=(out_h, out_w), ...)).
inline Tensor<float> interpolate(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w,
                                 Context& ctx, const InterpolateOptions& opt = {}) {
  return detail::resample(x, out_h, out_w, std::nullopt, std::nullopt, ctx, opt);
}

/// F.interpolate(x, scale_factor=(scale_h, scale_w), ...) with recompute_scale_factor unset: the
/// output is floor(in · scale) and the given scales (not the size ratio) map the coordinates.
inline Tensor<float> interpolate_by_scale(const Tensor<float>& x, double scale_h, double scale_w,
                                          Context& ctx, const InterpolateOptions& opt = {}) {
  BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "interpolate needs input [N, C, H, W], got ",
             x.shape().to_string());
  BIQA_CHECK(scale_h > 0 && scale_w > 0, ErrorCode::invalid_argument,
             "interpolate: scale factors must be positive");
  const auto out_h = static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(2)) * scale_h));
  const auto out_w = static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(3)) * scale_w));
  return detail::resample(x, out_h, out_w, scale_h, scale_w, ctx, opt);
}

}  // namespace biqa::ops

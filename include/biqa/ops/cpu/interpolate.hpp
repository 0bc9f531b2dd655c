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

/// Output rows [row0, row1) of the resize (row1 < 0: to out_h): [N, C, row1 − row0, out_w]. The
/// width pass covers only the input rows those rows read, and every output row is computed as in
/// the whole resize, so a band of rows equals those rows of the full result bit for bit.
/// in_h > 0: x holds only rows [x_row0, x_row0 + x.size(2)) of an input of in_h rows (they must
/// include every row the band reads).
inline Tensor<float> resample(const Tensor<float>& x_in, std::int64_t out_h, std::int64_t out_w,
                              std::optional<double> scale_h, std::optional<double> scale_w,
                              Context& ctx, const InterpolateOptions& opt, std::int64_t row0 = 0,
                              std::int64_t row1 = -1, std::int64_t in_h = 0, std::int64_t x_row0 = 0) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument, "interpolate needs input [N, C, H, W], got ",
             x_in.shape().to_string());
  const bool nearest = opt.mode == InterpolateMode::nearest || opt.mode == InterpolateMode::nearest_exact;
  BIQA_CHECK(!nearest || (!opt.align_corners && !opt.antialias), ErrorCode::invalid_argument,
             "interpolate: align_corners and antialias apply to bilinear and bicubic only");
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument, "interpolate: output size ", out_h,
             "x", out_w, " must be positive");
  const std::int64_t n = x_in.size(0), c = x_in.size(1), held = x_in.size(2), w = x_in.size(3);
  const std::int64_t h = in_h > 0 ? in_h : held;
  BIQA_CHECK(held > 0 && w > 0, ErrorCode::invalid_argument, "interpolate of an empty input ",
             x_in.shape().to_string());
  BIQA_CHECK(in_h <= 0 || (x_row0 >= 0 && x_row0 + held <= in_h), ErrorCode::invalid_argument, "interpolate: rows [",
             x_row0, ", ", x_row0 + held, ") of an input of ", in_h, " rows");
  if (row1 < 0) row1 = out_h;
  BIQA_CHECK(0 <= row0 && row0 < row1 && row1 <= out_h, ErrorCode::invalid_argument, "interpolate: rows [", row0,
             ", ", row1, ") of an output of ", out_h, " rows");
  const Tensor<float> x = x_in.contiguous();
  const ResampleTable th = resample_table(h, out_h, opt, scale_h);
  const ResampleTable tw = resample_table(w, out_w, opt, scale_w);
  // The input rows the output rows [row0, row1) read: [in0, in1).
  const auto taps_begin = th.index.begin() + row0 * th.taps, taps_end = th.index.begin() + row1 * th.taps;
  const std::int64_t in0 = *std::min_element(taps_begin, taps_end), in1 = *std::max_element(taps_begin, taps_end) + 1;
  BIQA_CHECK(x_row0 <= in0 && in1 <= x_row0 + held, ErrorCode::invalid_argument, "interpolate: output rows [", row0,
             ", ", row1, ") read input rows [", in0, ", ", in1, "), outside the rows held, [", x_row0, ", ",
             x_row0 + held, ")");
  const std::int64_t rows = row1 - row0;
  Tensor<float> out({n, c, rows, out_w});
  // Width pass into a per-plane buffer, then the height pass.
  parallel_for(ctx, n * c, 1, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<float> tmp(static_cast<std::size_t>((in1 - in0) * out_w));
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x.data() + p * held * w;  // input row y at src + (y − x_row0)·w
      float* dst = out.data() + p * rows * out_w;
      for (std::int64_t y = in0; y < in1; ++y) {
        const float* row = src + (y - x_row0) * w;
        for (std::int64_t ox = 0; ox < out_w; ++ox) {
          float acc = 0.0f;
          for (std::int64_t k = 0; k < tw.taps; ++k) {
            const auto i = static_cast<std::size_t>(ox * tw.taps + k);
            acc += tw.weight[i] * row[tw.index[i]];
          }
          tmp[static_cast<std::size_t>((y - in0) * out_w + ox)] = acc;
        }
      }
      for (std::int64_t oy = row0; oy < row1; ++oy) {
        float* drow = dst + (oy - row0) * out_w;
        std::fill_n(drow, out_w, 0.0f);
        for (std::int64_t k = 0; k < th.taps; ++k) {
          const auto i = static_cast<std::size_t>(oy * th.taps + k);
          const float wgt = th.weight[i];
          if (wgt == 0.0f) continue;
          const float* trow = tmp.data() + (th.index[i] - in0) * out_w;
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

/// Rows [row0, row1) of interpolate(x, out_h, out_w, ctx, opt), computed alone and equal to those
/// rows of the whole result bit for bit: a resize followed by a convolution can run in bands of
/// rows without the full-size map (Depth Anything's output stage does).
inline Tensor<float> interpolate_rows(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w,
                                      std::int64_t row0, std::int64_t row1, Context& ctx,
                                      const InterpolateOptions& opt = {}) {
  return detail::resample(x, out_h, out_w, std::nullopt, std::nullopt, ctx, opt, row0, row1);
}

/// The same when x_band holds only rows [x_row0, x_row0 + x_band.size(2)) of an input of in_h rows
/// (a band computed alone): it must hold interpolate_input_rows(in_h, out_h, row0, row1, opt).
inline Tensor<float> interpolate_rows(const Tensor<float>& x_band, std::int64_t in_h, std::int64_t x_row0,
                                      std::int64_t out_h, std::int64_t out_w, std::int64_t row0, std::int64_t row1,
                                      Context& ctx, const InterpolateOptions& opt = {}) {
  return detail::resample(x_band, out_h, out_w, std::nullopt, std::nullopt, ctx, opt, row0, row1, in_h, x_row0);
}

/// The input rows [first, last) that output rows [row0, row1) of a resize from in_h to out_h rows
/// read (by output size, as interpolate).
inline std::array<std::int64_t, 2> interpolate_input_rows(std::int64_t in_h, std::int64_t out_h, std::int64_t row0,
                                                          std::int64_t row1, const InterpolateOptions& opt = {}) {
  BIQA_CHECK(in_h > 0 && 0 <= row0 && row0 < row1 && row1 <= out_h, ErrorCode::invalid_argument,
             "interpolate_input_rows: rows [", row0, ", ", row1, ") of ", out_h, " from ", in_h);
  const detail::ResampleTable t = detail::resample_table(in_h, out_h, opt, std::nullopt);
  const auto b = t.index.begin() + row0 * t.taps, e = t.index.begin() + row1 * t.taps;
  return {*std::min_element(b, e), *std::max_element(b, e) + 1};
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

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

namespace biqa::ops {

enum class InterpolateMode { nearest, nearest_exact, bilinear, bicubic };

struct InterpolateOptions {
  InterpolateMode mode = InterpolateMode::bilinear;
  bool align_corners = false;  ///< bilinear and bicubic only
  bool antialias = false;      ///< bilinear and bicubic only
};

namespace detail {

/// Output position o reads `taps` input positions index[o·taps + t] with weights weight[o·taps + t].
struct ResampleTable {
  std::int64_t taps = 0;
  std::vector<std::int64_t> index;
  std::vector<float> weight;
};

/// PyTorch's area_pixel_compute_scale for float inputs.
inline float resample_scale(std::int64_t in, std::int64_t out, bool align_corners,
                            std::optional<double> scale_factor) {
  if (align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  if (scale_factor && *scale_factor > 0.0) return static_cast<float>(1.0 / *scale_factor);
  return static_cast<float>(in) / static_cast<float>(out);
}

/// area_pixel_compute_source_index (float result of double arithmetic, as in PyTorch).
inline float source_index(float scale, std::int64_t dst, bool align_corners, bool cubic) {
  if (align_corners) return static_cast<float>(scale * static_cast<double>(dst));
  const float src = static_cast<float>(scale * (static_cast<double>(dst) + 0.5) - 0.5);
  return (!cubic && src < 0.0f) ? 0.0f : src;
}

inline float cubic_near(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }  // |x| ≤ 1
inline float cubic_far(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }  // 1 < |x| < 2

inline ResampleTable resample_table(std::int64_t in, std::int64_t out, const InterpolateOptions& opt,
                                    std::optional<double> scale_factor) {
  ResampleTable t;
  const bool nearest = opt.mode == InterpolateMode::nearest || opt.mode == InterpolateMode::nearest_exact;
  const float scale = resample_scale(in, out, opt.align_corners && !nearest, scale_factor);
  auto push = [&](std::int64_t idx, float w) {
    t.index.push_back(std::clamp<std::int64_t>(idx, 0, in - 1));
    t.weight.push_back(w);
  };

  if (nearest) {
    t.taps = 1;
    for (std::int64_t o = 0; o < out; ++o) {
      std::int64_t src;
      if (opt.mode == InterpolateMode::nearest) {
        src = out == in ? o : out == 2 * in ? o >> 1
                            : static_cast<std::int64_t>(std::floor(static_cast<float>(o) * scale));
      } else {
        src = static_cast<std::int64_t>(
            std::floor(static_cast<float>((static_cast<double>(o) + 0.5) * scale)));
      }
      push(std::min(src, in - 1), 1.0f);
    }
    return t;
  }

  const bool cubic = opt.mode == InterpolateMode::bicubic;
  if (opt.antialias) {
    // Separable antialias filter: support widened by the scale when downsampling.
    const float base = cubic ? 2.0f : 1.0f;
    const float support = scale >= 1.0f ? base * scale : base;
    const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    t.taps = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    auto filter = [cubic](float x) {
      x = std::fabs(x);
      if (cubic) {
        constexpr float a = -0.5f;  // PyTorch's antialias cubic uses Keys' / PIL's A = −0.5
        return x < 1.0f ? cubic_near(x, a) : x < 2.0f ? cubic_far(x, a) : 0.0f;
      }
      return x < 1.0f ? 1.0f - x : 0.0f;
    };
    for (std::int64_t o = 0; o < out; ++o) {
      const float center = static_cast<float>(scale * (static_cast<double>(o) + 0.5));
      const std::int64_t xmin =
          std::max<std::int64_t>(static_cast<std::int64_t>(center - support + 0.5), 0);
      const std::int64_t xsize =
          std::min<std::int64_t>(static_cast<std::int64_t>(center + support + 0.5), in) - xmin;
      std::vector<float> w(static_cast<std::size_t>(t.taps), 0.0f);
      float total = 0.0f;
      for (std::int64_t j = 0; j < xsize && j < t.taps; ++j) {
        const float v = filter(static_cast<float>(
            (static_cast<float>(j + xmin) - center + 0.5) * static_cast<double>(invscale)));
        w[static_cast<std::size_t>(j)] = v;
        total += v;
      }
      for (std::int64_t j = 0; j < t.taps; ++j)
        push(xmin + j, total != 0.0f && j < xsize ? w[static_cast<std::size_t>(j)] / total : 0.0f);
    }
    return t;
  }

  if (cubic) {
    constexpr float a = -0.75f;
    t.taps = 4;
    for (std::int64_t o = 0; o < out; ++o) {
      const float real = source_index(scale, o, opt.align_corners, true);
      const std::int64_t i0 = static_cast<std::int64_t>(std::floor(real));
      const float f = real - static_cast<float>(i0);
      const float w[4] = {cubic_far(f + 1.0f, a), cubic_near(f, a), cubic_near(1.0f - f, a),
                          cubic_far(2.0f - f, a)};
      for (int j = 0; j < 4; ++j) push(i0 - 1 + j, w[j]);
    }
    return t;
  }

  t.taps = 2;
  for (std::int64_t o = 0; o < out; ++o) {
    if (out == in) {  // PyTorch copies when the extent is unchanged, whatever the scale factor
      push(o, 1.0f);
      push(o, 0.0f);
      continue;
    }
    const float real = source_index(scale, o, opt.align_corners, false);
    const std::int64_t i0 = static_cast<std::int64_t>(real);
    const std::int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const float l1 = real - static_cast<float>(i0);
    push(i0, 1.0f - l1);
    push(i1, l1);
  }
  return t;
}

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

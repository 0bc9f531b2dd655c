#pragma once
/// @file
/// 2-d pooling on NCHW tensors with PyTorch's semantics: max and average pooling (kernel, stride,
/// padding, dilation for max, ceil_mode, count_include_pad, divisor_override) and adaptive average
/// pooling (bins [floor(i·in/out), ceil((i+1)·in/out))).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

namespace detail {
/// The taps k of a pooling window starting at input index `start` (dilation d, kernel k_size) that
/// land inside [0, extent): [lo, hi).
inline std::pair<std::int64_t, std::int64_t> taps_inside(std::int64_t start, std::int64_t d,
                                                          std::int64_t k_size, std::int64_t extent) {
  const std::int64_t lo = std::min(k_size, start >= 0 ? 0 : (-start + d - 1) / d);
  const std::int64_t hi = extent - 1 - start >= 0 ? std::min(k_size, (extent - 1 - start) / d + 1) : 0;
  return {lo, std::max(lo, hi)};
}
}  // namespace detail

inline Tensor<float> max_pool2d(const Tensor<float>& x_in, Context& ctx, const Pool2dOptions& opt) {
  const auto g = detail::pool_geometry("max_pool2d", x_in.shape(), opt, true);
  const Tensor<float> x = x_in.contiguous();
  Tensor<float> out({g.n, g.c, g.oh, g.ow});
  // Separable: the maximum over the window's rows first, for a whole input row at once, then over
  // its columns, both as contiguous loops that vectorise: the row of column maxima is dealt into
  // `sw` phases (phase r holds columns r, r + sw, ...), so that tap kx of every output column reads
  // one phase at a fixed shift, and -inf around the phases stands for the padding. Taking every tap
  // of every window from the input with bounds checks was 8x slower than onnxruntime on ResNet-50's
  // stem pooling. A NaN wins as in PyTorch: once it is the maximum, nothing replaces it.
  const auto take = [](float v, float m) { return v > m || v != v ? v : m; };
  const std::int64_t s = g.sw;
  std::vector<std::int64_t> tap_phase(static_cast<std::size_t>(g.kw)), tap_shift(static_cast<std::size_t>(g.kw));
  std::int64_t min_shift = 0, max_shift = 0;
  for (std::int64_t kx = 0; kx < g.kw; ++kx) {
    const std::int64_t o = kx * g.dw - g.pw, q = o >= 0 ? o / s : -((-o + s - 1) / s);
    tap_phase[static_cast<std::size_t>(kx)] = o - q * s;
    tap_shift[static_cast<std::size_t>(kx)] = q;
    min_shift = std::min(min_shift, q);
    max_shift = std::max(max_shift, q);
  }
  const std::int64_t margin = -min_shift, per_phase = (g.w + s - 1) / s;
  const std::int64_t phase_len = margin + std::max(per_phase, g.ow + max_shift);
  parallel_for(ctx, g.n * g.c, 1, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<float> column_max(static_cast<std::size_t>(g.w));
    std::vector<float> phases(static_cast<std::size_t>(s * phase_len), -std::numeric_limits<float>::infinity());
    float* const cm = column_max.data();
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x.data() + p * g.h * g.w;
      float* dst = out.data() + p * g.oh * g.ow;
      for (std::int64_t y = 0; y < g.oh; ++y, dst += g.ow) {
        const std::int64_t iy0 = y * g.sh - g.ph;
        const auto [ky_lo, ky_hi] = detail::taps_inside(iy0, g.dh, g.kh, g.h);
        std::fill(cm, cm + g.w, -std::numeric_limits<float>::infinity());
        for (std::int64_t ky = ky_lo; ky < ky_hi; ++ky) {
          const float* row = src + (iy0 + ky * g.dh) * g.w;
          for (std::int64_t i = 0; i < g.w; ++i) cm[i] = take(row[i], cm[i]);
        }
        for (std::int64_t r = 0; r < s; ++r) {
          float* phase = phases.data() + r * phase_len + margin;
          const std::int64_t n = r < g.w ? (g.w - r + s - 1) / s : 0;
          if (s == 2)  // a constant stride vectorises (ResNet's pooling)
            for (std::int64_t i = 0; i < n; ++i) phase[i] = cm[2 * i + r];
          else
            for (std::int64_t i = 0; i < n; ++i) phase[i] = cm[i * s + r];
        }
        std::fill(dst, dst + g.ow, -std::numeric_limits<float>::infinity());
        for (std::int64_t kx = 0; kx < g.kw; ++kx) {
          const float* tap = phases.data() + tap_phase[static_cast<std::size_t>(kx)] * phase_len + margin +
                             tap_shift[static_cast<std::size_t>(kx)];
          for (std::int64_t xx = 0; xx < g.ow; ++xx) dst[xx] = take(tap[xx], dst[xx]);
        }
      }
    }
  });
  return out;
}

inline Tensor<float> avg_pool2d(const Tensor<float>& x_in, Context& ctx, const Pool2dOptions& opt) {
  const auto g = detail::pool_geometry("avg_pool2d", x_in.shape(), opt, false);
  BIQA_CHECK(!opt.divisor_override || *opt.divisor_override != 0, ErrorCode::invalid_argument,
             "avg_pool2d: divisor_override must not be zero");
  const Tensor<float> x = x_in.contiguous();
  Tensor<float> out({g.n, g.c, g.oh, g.ow});
  parallel_for(ctx, g.n * g.c, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x.data() + p * g.h * g.w;
      float* dst = out.data() + p * g.oh * g.ow;
      for (std::int64_t y = 0; y < g.oh; ++y) {
        for (std::int64_t xx = 0; xx < g.ow; ++xx) {
          std::int64_t y0 = y * g.sh - g.ph, x0 = xx * g.sw - g.pw;
          std::int64_t y1 = std::min(y0 + g.kh, g.h + g.ph), x1 = std::min(x0 + g.kw, g.w + g.pw);
          const std::int64_t padded_count = (y1 - y0) * (x1 - x0);  // window clipped to the padding
          y0 = std::max<std::int64_t>(y0, 0), x0 = std::max<std::int64_t>(x0, 0);
          y1 = std::min(y1, g.h), x1 = std::min(x1, g.w);
          if (y0 >= y1 || x0 >= x1) {
            dst[y * g.ow + xx] = 0.0f;
            continue;
          }
          float sum = 0.0f;
          for (std::int64_t iy = y0; iy < y1; ++iy)
            for (std::int64_t ix = x0; ix < x1; ++ix) sum += src[iy * g.w + ix];
          const std::int64_t divisor = opt.divisor_override ? *opt.divisor_override
                                       : opt.count_include_pad ? padded_count
                                                               : (y1 - y0) * (x1 - x0);
          dst[y * g.ow + xx] = sum / static_cast<float>(divisor);
        }
      }
    }
  });
  return out;
}

/// Adaptive average pooling to (out_h, out_w): bin i covers [floor(i·in/out), ceil((i+1)·in/out)).
inline Tensor<float> adaptive_avg_pool2d(const Tensor<float>& x_in, std::int64_t out_h,
                                         std::int64_t out_w, Context& ctx) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument,
             "adaptive_avg_pool2d needs input [N, C, H, W], got ", x_in.shape().to_string());
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument,
             "adaptive_avg_pool2d: output size must be positive, got ", out_h, "x", out_w);
  const std::int64_t h = x_in.size(2), w = x_in.size(3);
  BIQA_CHECK(h > 0 && w > 0, ErrorCode::invalid_argument, "adaptive_avg_pool2d of an empty input ",
             x_in.shape().to_string());
  const Tensor<float> x = x_in.contiguous();
  Tensor<float> out({x.size(0), x.size(1), out_h, out_w});
  parallel_for(ctx, x.size(0) * x.size(1), 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x.data() + p * h * w;
      float* dst = out.data() + p * out_h * out_w;
      for (std::int64_t oy = 0; oy < out_h; ++oy) {
        const std::int64_t y0 = oy * h / out_h, y1 = ((oy + 1) * h + out_h - 1) / out_h;
        for (std::int64_t ox = 0; ox < out_w; ++ox) {
          const std::int64_t x0 = ox * w / out_w, x1 = ((ox + 1) * w + out_w - 1) / out_w;
          float sum = 0.0f;
          for (std::int64_t iy = y0; iy < y1; ++iy)
            for (std::int64_t ix = x0; ix < x1; ++ix) sum += src[iy * w + ix];
          dst[oy * out_w + ox] = sum / static_cast<float>((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
  return out;
}

}  // namespace biqa::ops

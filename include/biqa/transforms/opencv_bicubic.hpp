#pragma once
/// @file
/// transforms::resize_bicubic_opencv: cv::resize(src, dst, Size(w, h), 0, 0, INTER_CUBIC) on a
/// double-precision H×W×C image, reproducing OpenCV's generic path for CV_64F:
///  - scale = 1 / (dst / src) per axis (OpenCV inverts the inverse scale), source coordinate
///    (float)((d + 0.5)·scale − 0.5), its floor and fraction in float;
///  - Keys' cubic with A = −0.75, the weights computed in float, the fourth as 1 − the other three;
///  - taps outside the image clamped to the border (replicated edge pixels);
///  - horizontal pass, then vertical pass, each summing its four products left to right in double;
///  - an unchanged size copies the image.
/// Depth Anything's preprocessing (Resize with cv2.INTER_CUBIC on an RGB image in [0, 1], float64)
/// depends on it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::transforms {

namespace detail {

/// Per output position: the first of four source taps (unclamped) and the four weights.
struct CubicTaps {
  std::vector<std::int64_t> first;
  std::vector<std::array<float, 4>> weight;
};

inline CubicTaps opencv_cubic_taps(std::int64_t in, std::int64_t out) {
  const double inv_scale = static_cast<double>(out) / static_cast<double>(in);
  const double scale = 1.0 / inv_scale;
  constexpr float a = -0.75f;
  CubicTaps t;
  t.first.resize(static_cast<std::size_t>(out));
  t.weight.resize(static_cast<std::size_t>(out));
  for (std::int64_t d = 0; d < out; ++d) {
    float f = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
    const auto s = static_cast<std::int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    std::array<float, 4>& w = t.weight[static_cast<std::size_t>(d)];
    w[0] = ((a * (f + 1) - 5 * a) * (f + 1) + 8 * a) * (f + 1) - 4 * a;
    w[1] = ((a + 2) * f - (a + 3)) * f * f + 1;
    w[2] = ((a + 2) * (1 - f) - (a + 3)) * (1 - f) * (1 - f) + 1;
    w[3] = 1.f - w[0] - w[1] - w[2];
    t.first[static_cast<std::size_t>(d)] = s - 1;
  }
  return t;
}

}  // namespace detail

/// img: H×W×C (or H×W) double → out_h × out_w × C (or out_h × out_w).
inline Tensor<double> resize_bicubic_opencv(const Tensor<double>& img, std::int64_t out_h, std::int64_t out_w) {
  BIQA_CHECK(img.dim() == 2 || img.dim() == 3, ErrorCode::invalid_argument,
             "resize_bicubic_opencv needs an H×W×C or H×W image, got ", img.shape().to_string());
  const std::int64_t h = img.size(0), w = img.size(1), c = img.dim() == 3 ? img.size(2) : 1;
  BIQA_CHECK(h > 0 && w > 0 && c > 0, ErrorCode::invalid_argument, "resize_bicubic_opencv: empty image ",
             img.shape().to_string());
  BIQA_CHECK(out_h > 0 && out_w > 0, ErrorCode::invalid_argument, "resize_bicubic_opencv: output size ", out_h,
             "x", out_w, " must be positive");
  const Tensor<double> src = img.contiguous();
  if (out_h == h && out_w == w) return src.clone();

  const detail::CubicTaps tx = detail::opencv_cubic_taps(w, out_w), ty = detail::opencv_cubic_taps(h, out_h);
  auto clamp = [](std::int64_t i, std::int64_t n) { return std::clamp<std::int64_t>(i, 0, n - 1); };

  // Horizontal pass over every source row (each is needed by some output row for any upscale;
  // the cost is small next to the network that follows).
  std::vector<double> rows(static_cast<std::size_t>(h * out_w * c));
  for (std::int64_t y = 0; y < h; ++y) {
    const double* s = src.data() + y * w * c;
    double* d = rows.data() + y * out_w * c;
    for (std::int64_t x = 0; x < out_w; ++x) {
      const auto& wt = tx.weight[static_cast<std::size_t>(x)];
      const std::int64_t f = tx.first[static_cast<std::size_t>(x)];
      const std::int64_t i0 = clamp(f, w) * c, i1 = clamp(f + 1, w) * c, i2 = clamp(f + 2, w) * c,
                         i3 = clamp(f + 3, w) * c;
      for (std::int64_t k = 0; k < c; ++k)
        d[x * c + k] = s[i0 + k] * double(wt[0]) + s[i1 + k] * double(wt[1]) + s[i2 + k] * double(wt[2]) +
                       s[i3 + k] * double(wt[3]);
    }
  }

  Tensor<double> out = img.dim() == 3 ? Tensor<double>({out_h, out_w, c}) : Tensor<double>({out_h, out_w});
  const std::int64_t row = out_w * c;
  for (std::int64_t y = 0; y < out_h; ++y) {
    const auto& wt = ty.weight[static_cast<std::size_t>(y)];
    const std::int64_t f = ty.first[static_cast<std::size_t>(y)];
    const double* r0 = rows.data() + clamp(f, h) * row;
    const double* r1 = rows.data() + clamp(f + 1, h) * row;
    const double* r2 = rows.data() + clamp(f + 2, h) * row;
    const double* r3 = rows.data() + clamp(f + 3, h) * row;
    const double b0 = wt[0], b1 = wt[1], b2 = wt[2], b3 = wt[3];
    double* d = out.data() + y * row;
    for (std::int64_t i = 0; i < row; ++i) d[i] = r0[i] * b0 + r1[i] * b1 + r2[i] * b2 + r3[i] * b3;
  }
  return out;
}

}  // namespace biqa::transforms

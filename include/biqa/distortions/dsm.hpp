#pragma once
/// @file
/// Ground-truth distortion-sensitivity map (DSMix): |distorted − reference| averaged over the
/// three channels, then average pooling with kernel = stride = p (floor: trailing rows/columns that
/// do not fill a window are dropped, like torch avg_pool2d).

#include <cmath>
#include <vector>

#include "biqa/distortions/common.hpp"

namespace biqa::distortions {

inline Tensor<float> distortion_sensitivity_map(const Image& distorted, const Image& reference, int p = 8) {
  check_rgb(distorted, "dsm (distorted)");
  check_rgb(reference, "dsm (reference)");
  BIQA_CHECK(distorted.shape() == reference.shape(), ErrorCode::invalid_argument,
             "dsm: distorted ", distorted.shape().to_string(), " and reference ",
             reference.shape().to_string(), " differ in size");
  const std::int64_t h = distorted.size(0), w = distorted.size(1);
  BIQA_CHECK(p >= 1 && h >= p && w >= p, ErrorCode::invalid_argument, "dsm: pool size ", p,
             " does not fit a ", h, "×", w, " image");
  const Image a = distorted.contiguous(), b = reference.contiguous();
  const std::int64_t oh = h / p, ow = w / p;
  std::vector<double> acc(static_cast<std::size_t>(oh * ow), 0.0);
  for (std::int64_t y = 0; y < oh * p; ++y)
    for (std::int64_t x = 0; x < ow * p; ++x) {
      const float* pa = a.data() + (y * w + x) * 3;
      const float* pb = b.data() + (y * w + x) * 3;
      const double d = (std::fabs(double(pa[0]) - pb[0]) + std::fabs(double(pa[1]) - pb[1]) +
                        std::fabs(double(pa[2]) - pb[2])) / 3.0;
      acc[static_cast<std::size_t>((y / p) * ow + x / p)] += d;
    }
  Tensor<float> out(Shape{oh, ow});
  for (std::size_t i = 0; i < acc.size(); ++i) out.data()[i] = float(acc[i] / (p * p));
  return out;
}

}  // namespace biqa::distortions

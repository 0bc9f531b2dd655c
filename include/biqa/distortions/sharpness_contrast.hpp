#pragma once
/// @file
/// Sharpness and contrast family: high sharpen (#24), contrast change (#25).

#include "biqa/distortions/color_space.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/filters.hpp"
#include "biqa/distortions/spline.hpp"

namespace biqa::distortions {

/// #24 high_sharpen: MATLAB imsharpen(I, 'Radius', 3, 'Amount', amount): unsharp mask on L* with a
/// Gaussian of σ = 3 (13×13, replicate), threshold 0; back to RGB and clipped.
inline Image high_sharpen(const Image& in, double amount) {
  check_rgb(in, "high_sharpen");
  Image lab = rgb2lab(in);
  const Plane l = channel(lab, 0);
  const Plane blurred = gaussian_filter(l, 3.0, gaussian_size(3.0));
  Plane sharp(l.h, l.w);
  for (std::size_t i = 0; i < l.v.size(); ++i) sharp.v[i] = float(l.v[i] + amount * (l.v[i] - blurred.v[i]));
  set_channel(lab, 0, sharp);
  Image out = lab2rgb(lab);
  truncate(out);
  return out;
}

/// #25 contrast_change: curves(RGB, [0.25 − a/4, 0.75 + a/4]), the 5-point not-a-knot spline.
inline Image contrast_change(const Image& in, double a) {
  check_rgb(in, "contrast_change");
  Image out = in.clone();
  apply_curve(out, tone_curve(0.25 - a / 4, 0.75 + a / 4));
  return out;
}

}  // namespace biqa::distortions

#pragma once
/// @file
/// Blur family: Gaussian blur (#1), lens blur (#2), motion blur (#3). Replicate borders, as the
/// MATLAB reference (imfilter(…, 'replicate')).

#include "biqa/distortions/common.hpp"
#include "biqa/distortions/filters.hpp"

namespace biqa::distortions {

/// #1 gaussian_blur: fspecial('gaussian', 2·⌈2σ⌉+1, σ).
inline Image gaussian_blur(const Image& in, double sigma) {
  check_rgb(in, "gaussian_blur");
  return gaussian_filter_image(in, sigma, gaussian_size(sigma));
}

/// #2 lens_blur: fspecial('disk', radius).
inline Image lens_blur(const Image& in, double radius) {
  check_rgb(in, "lens_blur");
  return filter_image(in, disk_kernel(radius));
}

/// #3 motion_blur: fspecial('motion', length, angle) at a given angle in degrees …
inline Image motion_blur(const Image& in, double length, double angle_deg) {
  check_rgb(in, "motion_blur");
  return filter_image(in, motion_kernel(length, angle_deg));
}
/// … or at an angle drawn uniformly in [0, 180).
inline Image motion_blur(const Image& in, double length, Rng& rng) {
  const double angle = rng.uniform(0.0, 180.0);
  return motion_blur(in, length, angle);
}

}  // namespace biqa::distortions

#pragma once
/// @file
/// A deterministic test picture for timing and smoke tests when no photograph is at hand: colour
/// ramps plus a fine sinusoidal texture, so that natural-scene statistics (BRISQUE, NIQE) see edges
/// and detail rather than a flat field. `biqa bench` scores it when no image is given, and
/// benchmarks/bench_scorers times every model on it.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::data {

/// An RGB picture [height, width, 3] with values in [0, 1]: red rises from left to right, green
/// from top to bottom, blue falls towards the bottom-right corner, and every channel carries the
/// texture 0.08 · sin(0.9 x) · cos(0.7 y) (x, y in pixels).
inline Tensor<float> synthetic_picture(std::int64_t width, std::int64_t height) {
  BIQA_CHECK(width > 0 && height > 0, ErrorCode::invalid_argument, "synthetic_picture: size ", width, "x", height,
             " must be positive");
  Tensor<float> img({height, width, 3});
  float* p = img.data();
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const double u = double(x) / double(width), v = double(y) / double(height);
      const double texture = 0.08 * std::sin(0.9 * double(x)) * std::cos(0.7 * double(y));
      const double c[3] = {0.2 + 0.6 * u, 0.3 + 0.5 * v, 0.7 - 0.4 * u * v};
      for (int k = 0; k < 3; ++k) *p++ = float(std::clamp(c[k] + texture, 0.0, 1.0));
    }
  return img;
}

}  // namespace biqa::data

#pragma once
/// @file
/// heatmap_rgb: an H×W float map as an 8-bit colour picture for people to look at (depth,
/// attention). Values are min-max scaled to [0, 1] (a constant map is drawn at 0), then coloured
/// along a perceptually ordered dark-to-bright ramp (black, indigo, crimson, orange, pale yellow),
/// linearly between those five stops. Non-finite values are drawn black.
/// overlay_heatmap: the same colours blended over the picture the map belongs to, the map resized
/// bilinearly to the picture's size first (model maps are usually coarser: tokens, crops).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/interpolate.hpp"

namespace biqa::io {

inline std::array<std::uint8_t, 3> heat_colour(float t) {
  static constexpr float stops[5][3] = {
      {0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
  t = std::clamp(t, 0.0f, 1.0f) * 4.0f;
  const int i = std::min(static_cast<int>(t), 3);
  const float f = t - static_cast<float>(i);
  std::array<std::uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k)
    c[static_cast<std::size_t>(k)] =
        static_cast<std::uint8_t>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  return c;
}

inline Tensor<std::uint8_t> heatmap_rgb(const Tensor<float>& map_in) {
  BIQA_CHECK(map_in.dim() == 2 && map_in.numel() > 0, ErrorCode::invalid_argument,
             "heatmap_rgb: expected a non-empty [H, W] map, got ", map_in.shape().to_string());
  const Tensor<float> m = map_in.contiguous();
  float lo = INFINITY, hi = -INFINITY;
  for (std::int64_t i = 0; i < m.numel(); ++i)
    if (std::isfinite(m.data()[i])) lo = std::min(lo, m.data()[i]), hi = std::max(hi, m.data()[i]);
  const float span = hi > lo ? hi - lo : 1.0f;
  Tensor<std::uint8_t> out({m.size(0), m.size(1), 3});
  for (std::int64_t i = 0; i < m.numel(); ++i) {
    const float v = m.data()[i];
    const auto c = std::isfinite(v) ? heat_colour((v - lo) / span) : std::array<std::uint8_t, 3>{0, 0, 0};
    std::copy(c.begin(), c.end(), out.data() + i * 3);
  }
  return out;
}

/// image: H×W×3 uint8; map: [h, w] float, any size. Returns (1 − alpha)·image + alpha·heat, per pixel
/// and channel, rounded. Non-finite map values leave the picture as it is there.
inline Tensor<std::uint8_t> overlay_heatmap(const Tensor<std::uint8_t>& image_in, const Tensor<float>& map_in,
                                            float alpha = 0.5f) {
  BIQA_CHECK(image_in.dim() == 3 && image_in.size(2) == 3 && image_in.numel() > 0, ErrorCode::invalid_argument,
             "overlay_heatmap: expected an H×W×3 picture, got ", image_in.shape().to_string());
  BIQA_CHECK(map_in.dim() == 2 && map_in.numel() > 0, ErrorCode::invalid_argument,
             "overlay_heatmap: expected a non-empty [H, W] map, got ", map_in.shape().to_string());
  BIQA_CHECK(alpha >= 0.0f && alpha <= 1.0f, ErrorCode::invalid_argument, "overlay_heatmap: alpha ", alpha,
             " is outside [0, 1]");
  const std::int64_t h = image_in.size(0), w = image_in.size(1);
  Tensor<float> map = map_in.contiguous();
  if (map.size(0) != h || map.size(1) != w) {
    Context ctx;
    ops::InterpolateOptions io;
    io.mode = ops::InterpolateMode::bilinear;
    map = ops::interpolate(map.reshape({1, 1, map.size(0), map.size(1)}), h, w, ctx, io).reshape({h, w});
  }
  const Tensor<std::uint8_t> heat = heatmap_rgb(map), image = image_in.contiguous();
  Tensor<std::uint8_t> out({h, w, 3});
  for (std::int64_t i = 0; i < h * w; ++i) {
    const bool finite = std::isfinite(map.data()[i]);
    for (std::int64_t k = 0; k < 3; ++k) {
      const float a = float(image.data()[i * 3 + k]), b = float(heat.data()[i * 3 + k]);
      out.data()[i * 3 + k] = finite ? static_cast<std::uint8_t>(std::lround((1.0f - alpha) * a + alpha * b))
                                     : image.data()[i * 3 + k];
    }
  }
  return out;
}

}  // namespace biqa::io

#pragma once
/// @file
/// Brightness family: brighten (#16), darken (#17), mean shift (#18).

#include "biqa/distortions/color_space.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/spline.hpp"

namespace biqa::distortions {

/// #16 brighten: (2·curves(RGB, 0.5+a/2) + lab2rgb(L ← 100·curves(L/100, 0.5+a/2))) / 3.
inline Image brighten(const Image& in, double a) {
  check_rgb(in, "brighten");
  const Spline curve = tone_curve(0.5 + a / 2);
  Image lab = rgb2lab(in);
  float* l = lab.data();
  for (std::int64_t i = 0; i < lab.numel(); i += 3) l[i] = float(100.0 * clamp01(curve(l[i] / 100.0)));
  Image via_lab = lab2rgb(lab);
  truncate(via_lab);
  Image out = in.clone();
  apply_curve(out, curve);
  float* o = out.data();
  const float* v = via_lab.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) o[i] = (2.0f * o[i] + v[i]) / 3.0f;
  return out;
}

/// #17 darken: curves(RGB, 0.5 − a/2).
inline Image darken(const Image& in, double a) {
  check_rgb(in, "darken");
  Image out = in.clone();
  apply_curve(out, tone_curve(0.5 - a / 2));
  return out;
}

/// #18 mean_shift: I + shift, clipped to [0,1].
inline Image mean_shift(const Image& in, double shift) {
  check_rgb(in, "mean_shift");
  Image out = in.clone();
  float* p = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) p[i] = clamp01(float(p[i] + shift));
  return out;
}

}  // namespace biqa::distortions

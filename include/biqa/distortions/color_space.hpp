#pragma once
/// @file
/// Colour conversions with MATLAB's conventions, on H×W×3 float images:
/// rgb2lab / lab2rgb (sRGB, D65 white as MATLAB's whitepoint('d65')), rgb2hsv / hsv2rgb (H in [0,1]),
/// rgb2ycbcr / ycbcr2rgb (ITU-R BT.601, studio range, on [0,1] values), rgb2gray.
/// Outputs are not clipped (like MATLAB for double inputs).

#include <cmath>

#include "biqa/distortions/common.hpp"

namespace biqa::distortions {

namespace detail {
inline double srgb_to_linear(double v) {
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}
inline double linear_to_srgb(double v) {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1.0 / 2.4) - 0.055;
}
/// sRGB primaries → XYZ (IEC 61966-2-1, the 4-digit matrix MATLAB uses).
inline constexpr double rgb2xyz_m[9] = {0.4124, 0.3576, 0.1805, 0.2126, 0.7152, 0.0722,
                                        0.0193, 0.1192, 0.9505};
/// The exact inverse of rgb2xyz_m (so that Lab round trips are lossless to float precision).
inline constexpr double xyz2rgb_m[9] = {3.240625477320054,    -1.5372079722103185, -0.4986285986982478,
                                        -0.9689307147293196,  1.8757560608852413,  0.04151752384295395,
                                        0.05571012044551063,  -0.20402105059848671, 1.0569959422543882};
inline constexpr double d65[3] = {0.9504, 1.0, 1.0888};
inline double lab_f(double t) {
  constexpr double e = 216.0 / 24389.0;  // (6/29)^3
  return t > e ? std::cbrt(t) : (24389.0 / 27.0 * t + 16.0) / 116.0;
}
inline double lab_finv(double f) {
  constexpr double d = 6.0 / 29.0;
  return f > d ? f * f * f : 3 * d * d * (f - 4.0 / 29.0);
}
}  // namespace detail

inline void rgb2lab_px(const float* rgb, float* lab) {
  double l[3];
  for (int i = 0; i < 3; ++i) l[i] = detail::srgb_to_linear(rgb[i]);
  double f[3];
  for (int i = 0; i < 3; ++i) {
    const double* m = detail::rgb2xyz_m + 3 * i;
    f[i] = detail::lab_f((m[0] * l[0] + m[1] * l[1] + m[2] * l[2]) / detail::d65[i]);
  }
  lab[0] = float(116 * f[1] - 16);
  lab[1] = float(500 * (f[0] - f[1]));
  lab[2] = float(200 * (f[1] - f[2]));
}
inline void lab2rgb_px(const float* lab, float* rgb) {
  const double fy = (lab[0] + 16.0) / 116.0;
  const double fx = fy + lab[1] / 500.0, fz = fy - lab[2] / 200.0;
  const double xyz[3] = {detail::lab_finv(fx) * detail::d65[0], detail::lab_finv(fy) * detail::d65[1],
                         detail::lab_finv(fz) * detail::d65[2]};
  for (int i = 0; i < 3; ++i) {
    const double* m = detail::xyz2rgb_m + 3 * i;
    rgb[i] = float(detail::linear_to_srgb(m[0] * xyz[0] + m[1] * xyz[1] + m[2] * xyz[2]));
  }
}

inline void rgb2hsv_px(const float* rgb, float* hsv) {
  const double r = rgb[0], g = rgb[1], b = rgb[2];
  const double v = std::max({r, g, b}), mn = std::min({r, g, b}), d = v - mn;
  double h = 0;
  if (d > 0) {
    if (v == r) h = (g - b) / d;
    else if (v == g) h = 2 + (b - r) / d;
    else h = 4 + (r - g) / d;
    h /= 6;
    if (h < 0) h += 1;
  }
  hsv[0] = float(h);
  hsv[1] = float(v > 0 ? d / v : 0);
  hsv[2] = float(v);
}
/// MATLAB's formula; it stays defined for saturation outside [0,1].
inline void hsv2rgb_px(const float* hsv, float* rgb) {
  const double h6 = double(hsv[0]) * 6, s = hsv[1], v = hsv[2];
  int k = static_cast<int>(std::floor(h6));
  const double f = h6 - k;
  k = ((k % 6) + 6) % 6;
  const double t = 1 - s, n = 1 - s * f, p = 1 - s * (1 - f);
  double c[3];
  switch (k) {
    case 0: c[0] = 1; c[1] = p; c[2] = t; break;
    case 1: c[0] = n; c[1] = 1; c[2] = t; break;
    case 2: c[0] = t; c[1] = 1; c[2] = p; break;
    case 3: c[0] = t; c[1] = n; c[2] = 1; break;
    case 4: c[0] = p; c[1] = t; c[2] = 1; break;
    default: c[0] = 1; c[1] = t; c[2] = n; break;
  }
  for (int i = 0; i < 3; ++i) rgb[i] = float(c[i] * v);
}

/// BT.601 studio range for [0,1] data: Y in [16,235]/255, Cb/Cr in [16,240]/255.
inline void rgb2ycbcr_px(const float* rgb, float* ycc) {
  const double r = rgb[0], g = rgb[1], b = rgb[2];
  ycc[0] = float((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
  ycc[1] = float((128 - 37.797 * r - 74.203 * g + 112.0 * b) / 255.0);
  ycc[2] = float((128 + 112.0 * r - 93.786 * g - 18.214 * b) / 255.0);
}
inline void ycbcr2rgb_px(const float* ycc, float* rgb) {
  // Inverse of the matrix above (computed in closed form from the BT.601 coefficients).
  const double y = ycc[0] * 255.0 - 16, cb = ycc[1] * 255.0 - 128, cr = ycc[2] * 255.0 - 128;
  rgb[0] = float(0.00456621004566210 * y + 0.00625892896994950 * cr);
  rgb[1] = float(0.00456621004566210 * y - 0.00153632368604490 * cb - 0.00318811075186861 * cr);
  rgb[2] = float(0.00456621004566210 * y + 0.00791071623355474 * cb);
}

template <void (*F)(const float*, float*)>
inline Image convert(const Image& in) {
  check_rgb(in, "colour conversion");
  Image out = new_image(in.size(0), in.size(1));
  const float* s = in.data();
  float* d = out.data();
  for (std::int64_t i = 0; i < in.size(0) * in.size(1); ++i) F(s + 3 * i, d + 3 * i);
  return out;
}
inline Image rgb2lab(const Image& in) { return convert<rgb2lab_px>(in); }
inline Image lab2rgb(const Image& in) { return convert<lab2rgb_px>(in); }
inline Image rgb2hsv(const Image& in) { return convert<rgb2hsv_px>(in); }
inline Image hsv2rgb(const Image& in) { return convert<hsv2rgb_px>(in); }
inline Image rgb2ycbcr(const Image& in) { return convert<rgb2ycbcr_px>(in); }
inline Image ycbcr2rgb(const Image& in) { return convert<ycbcr2rgb_px>(in); }

/// MATLAB rgb2gray weights (the exact values MATLAB uses for BT.601 luma).
inline float gray_px(const float* rgb) {
  return float(0.298936021293775 * rgb[0] + 0.587043074451121 * rgb[1] + 0.114020904255103 * rgb[2]);
}

}  // namespace biqa::distortions

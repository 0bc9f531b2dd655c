#pragma once
/// @file
/// Noise family: white noise (#11), white noise in colour components (#12), impulse noise (#13),
/// multiplicative noise (#14), denoise (#15). Random draws come from the caller's Rng, one draw
/// per sample in row-major H×W×C order.

#include <algorithm>
#include <cmath>
#include <vector>

#include "biqa/distortions/color_space.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/filters.hpp"

namespace biqa::distortions {

/// MATLAB imnoise(I, 'gaussian', 0, var): add N(0, var) to every sample, clip to [0,1].
inline void add_gaussian_noise(Image& img, double variance, Rng& rng) {
  const double sd = std::sqrt(variance);
  float* p = img.data();
  for (std::int64_t i = 0; i < img.numel(); ++i) p[i] = clamp01(float(p[i] + sd * rng.normal()));
}

/// #11 white_noise.
inline Image white_noise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "white_noise");
  Image out = in.clone();
  add_gaussian_noise(out, variance, rng);
  return out;
}

/// #12 white_noise_color_component: noise on the BT.601 studio-range Y, Cb and Cr planes
/// (clipped to [0,1] there), then back to RGB (clipped again).
inline Image white_noise_color_component(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "white_noise_color_component");
  Image ycc = rgb2ycbcr(in);
  add_gaussian_noise(ycc, variance, rng);
  Image out = ycbcr2rgb(ycc);
  truncate(out);  // MATLAB's ycbcr2rgb clips floating-point output to [0,1]
  return out;
}

/// #13 impulse_noise: imnoise 'salt & pepper': each sample becomes 0 with probability d/2 and 1
/// with probability d/2 (one uniform draw per sample).
inline Image impulse_noise(const Image& in, double density, Rng& rng) {
  check_rgb(in, "impulse_noise");
  Image out = in.clone();
  float* p = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const double u = rng.uniform();
    if (u < density / 2) p[i] = 0.0f;
    else if (u < density) p[i] = 1.0f;
  }
  return out;
}

/// #14 multiplicative_noise: imnoise 'speckle': J = I + n·I, n uniform with zero mean and the
/// given variance, clipped.
inline Image multiplicative_noise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "multiplicative_noise");
  Image out = in.clone();
  const double span = std::sqrt(12.0 * variance);
  float* p = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) p[i] = clamp01(float(p[i] + span * (rng.uniform() - 0.5) * p[i]));
  return out;
}

/// Non-local means on one plane (Buades et al.): 3×3 patches, a 9×9 search window, weights
/// exp(−max(d² − 2σ², 0) / h²) with d² the mean squared patch difference and h = 0.45σ.
/// The stand-in for MATLAB's DnCNN in #15 (see docs/distortions.md).
inline Plane non_local_means(const Plane& p, double sigma) {
  constexpr int pr = 1, sr = 4, R = pr + sr;
  const double h2 = (0.45 * sigma) * (0.45 * sigma), s2 = 2 * sigma * sigma;
  const double inv_patch = 1.0 / ((2 * pr + 1) * (2 * pr + 1));
  const std::int64_t h = p.h, w = p.w, pw = w + 2 * R, ph = h + 2 * R;
  // Replicate-padded copy, so the patch comparisons below need no bounds checks.
  std::vector<float> pad(static_cast<std::size_t>(ph * pw));
  for (std::int64_t y = 0; y < ph; ++y)
    for (std::int64_t x = 0; x < pw; ++x)
      pad[static_cast<std::size_t>(y * pw + x)] = p(std::clamp<std::int64_t>(y - R, 0, h - 1), std::clamp<std::int64_t>(x - R, 0, w - 1));
  auto P = [&](std::int64_t y, std::int64_t x) { return pad[static_cast<std::size_t>((y + R) * pw + x + R)]; };
  // exp(−t) for t in [0, 16) from a table (linear interpolation, error < 2e-7); 0 beyond.
  constexpr int lut_n = 8192;
  constexpr double lut_max = 16.0;
  static const std::vector<double> lut = [] {
    std::vector<double> t(lut_n + 1);
    for (int i = 0; i <= lut_n; ++i) t[static_cast<std::size_t>(i)] = std::exp(-lut_max * i / lut_n);
    return t;
  }();
  auto fast_exp_neg = [&](double t) {
    if (t >= lut_max) return 0.0;
    const double u = t * (lut_n / lut_max);
    const auto k = static_cast<std::size_t>(u);
    const double f = u - double(k);
    return lut[k] + (lut[k + 1] - lut[k]) * f;
  };
  std::vector<double> wsum(static_cast<std::size_t>(h * w), 0.0), acc(wsum.size(), 0.0);
  const std::int64_t dh = h + 2 * pr, dw = w + 2 * pr;  // rows/cols −pr … h+pr−1
  std::vector<double> diff(static_cast<std::size_t>(dh * dw)), rows(static_cast<std::size_t>(dh * w));
  // One pass per search offset: squared differences, box-summed over the patch, turned into weights.
  for (int dy = -sr; dy <= sr; ++dy) {
    for (int dx = -sr; dx <= sr; ++dx) {
      for (std::int64_t y = 0; y < dh; ++y)
        for (std::int64_t x = 0; x < dw; ++x) {
          const double d = double(P(y - pr, x - pr)) - P(y - pr + dy, x - pr + dx);
          diff[static_cast<std::size_t>(y * dw + x)] = d * d;
        }
      for (std::int64_t y = 0; y < dh; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          double s = 0;
          for (int b = 0; b <= 2 * pr; ++b) s += diff[static_cast<std::size_t>(y * dw + x + b)];
          rows[static_cast<std::size_t>(y * w + x)] = s;
        }
      const std::int64_t y0 = std::max<std::int64_t>(0, -dy), y1 = std::min<std::int64_t>(h, h - dy);
      const std::int64_t x0 = std::max<std::int64_t>(0, -dx), x1 = std::min<std::int64_t>(w, w - dx);
      for (std::int64_t y = y0; y < y1; ++y)
        for (std::int64_t x = x0; x < x1; ++x) {
          double d2 = 0;
          for (int a = 0; a <= 2 * pr; ++a) d2 += rows[static_cast<std::size_t>((y + a) * w + x)];
          const double wt = fast_exp_neg(std::max(d2 * inv_patch - s2, 0.0) / h2);
          wsum[static_cast<std::size_t>(y * w + x)] += wt;
          acc[static_cast<std::size_t>(y * w + x)] += wt * p(y + dy, x + dx);
        }
    }
  }
  Plane out(h, w);
  for (std::size_t i = 0; i < out.v.size(); ++i) out.v[i] = float(acc[i] / wsum[i]);
  return out;
}

/// #15 denoise: Gaussian noise of the given variance (clipped), then each RGB channel denoised
/// separately (non-local means instead of DnCNN).
inline Image denoise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "denoise");
  Image noisy = in.clone();
  add_gaussian_noise(noisy, variance, rng);
  Image out = new_image(in.size(0), in.size(1));
  for (int c = 0; c < 3; ++c) set_channel(out, c, non_local_means(channel(noisy, c), std::sqrt(variance)));
  return out;
}

}  // namespace biqa::distortions

#pragma once
// Noise family: white noise (#11), white noise in colour components (#12), impulse noise (#13),
// multiplicative noise (#14), denoise (#15). Random draws come from the caller's Rng, one draw
// per sample in row-major H×W×C order.

#include <algorithm>
#include <cmath>
#include <vector>

#include "biqa/distortions/color_space.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/filters.hpp"

namespace biqa::distortions {

// MATLAB imnoise(I, 'gaussian', 0, var): add N(0, var) to every sample, clip to [0,1].
inline void add_gaussian_noise(Image& img, double variance, Rng& rng) {
  const double sd = std::sqrt(variance);
  float* p = img.data();
  for (std::int64_t i = 0; i < img.numel(); ++i) p[i] = clamp01(float(p[i] + sd * rng.normal()));
}

// #11 white_noise.
inline Image white_noise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "white_noise");
  Image out = in.clone();
  add_gaussian_noise(out, variance, rng);
  return out;
}

// #12 white_noise_color_component: noise on the BT.601 studio-range Y, Cb and Cr planes
// (clipped to [0,1] there), then back to RGB (clipped again).
inline Image white_noise_color_component(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "white_noise_color_component");
  Image ycc = rgb2ycbcr(in);
  add_gaussian_noise(ycc, variance, rng);
  Image out = ycbcr2rgb(ycc);
  truncate(out);  // MATLAB's ycbcr2rgb clips floating-point output to [0,1]
  return out;
}

// #13 impulse_noise: imnoise 'salt & pepper': each sample becomes 0 with probability d/2 and 1
// with probability d/2 (one uniform draw per sample).
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

// #14 multiplicative_noise: imnoise 'speckle': J = I + n·I, n uniform with zero mean and the
// given variance, clipped.
inline Image multiplicative_noise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "multiplicative_noise");
  Image out = in.clone();
  const double span = std::sqrt(12.0 * variance);
  float* p = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) p[i] = clamp01(float(p[i] + span * (rng.uniform() - 0.5) * p[i]));
  return out;
}

// Non-local means on one plane (Buades et al.): 3×3 patches, a 9×9 search window, weights
// exp(−max(d² − 2σ², 0) / h²) with d² the mean squared patch difference and h = 0.45σ.
// The stand-in for MATLAB's DnCNN in #15 (see docs/distortions.md).
inline Plane non_local_means(const Plane& p, double sigma) {
  constexpr int pr = 1, sr = 4;
  const double h2 = (0.45 * sigma) * (0.45 * sigma), s2 = 2 * sigma * sigma;
  const std::int64_t h = p.h, w = p.w;
  std::vector<double> wsum(static_cast<std::size_t>(h * w), 0.0), acc(wsum.size(), 0.0);
  std::vector<double> diff(wsum.size()), rows(wsum.size());
  auto clampy = [&](std::int64_t y) { return std::clamp<std::int64_t>(y, 0, h - 1); };
  auto clampx = [&](std::int64_t x) { return std::clamp<std::int64_t>(x, 0, w - 1); };
  // One pass per search offset: squared differences of the shifted plane (replicated borders),
  // box-summed over the patch, turned into weights.
  for (int dy = -sr; dy <= sr; ++dy) {
    for (int dx = -sr; dx <= sr; ++dx) {
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          const double d = double(p(y, x)) - p(clampy(y + dy), clampx(x + dx));
          diff[static_cast<std::size_t>(y * w + x)] = d * d;
        }
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          double s = 0;
          for (int b = -pr; b <= pr; ++b) s += diff[static_cast<std::size_t>(y * w + clampx(x + b))];
          rows[static_cast<std::size_t>(y * w + x)] = s;
        }
      for (std::int64_t y = 0; y < h; ++y) {
        const std::int64_t yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (std::int64_t x = 0; x < w; ++x) {
          const std::int64_t xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          double d2 = 0;
          for (int a = -pr; a <= pr; ++a) d2 += rows[static_cast<std::size_t>(clampy(y + a) * w + x)];
          d2 /= (2 * pr + 1) * (2 * pr + 1);
          const double wt = std::exp(-std::max(d2 - s2, 0.0) / h2);
          wsum[static_cast<std::size_t>(y * w + x)] += wt;
          acc[static_cast<std::size_t>(y * w + x)] += wt * p(yy, xx);
        }
      }
    }
  }
  Plane out(h, w);
  for (std::size_t i = 0; i < out.v.size(); ++i) out.v[i] = float(acc[i] / wsum[i]);
  return out;
}

// #15 denoise: Gaussian noise of the given variance (clipped), then each RGB channel denoised
// separately (non-local means instead of DnCNN).
inline Image denoise(const Image& in, double variance, Rng& rng) {
  check_rgb(in, "denoise");
  Image noisy = in.clone();
  add_gaussian_noise(noisy, variance, rng);
  Image out = new_image(in.size(0), in.size(1));
  for (int c = 0; c < 3; ++c) set_channel(out, c, non_local_means(channel(noisy, c), std::sqrt(variance)));
  return out;
}

}  // namespace biqa::distortions

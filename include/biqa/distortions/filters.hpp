#pragma once
/// @file
/// MATLAB's fspecial kernels ('gaussian', 'disk', 'motion') and imfilter(…, 'replicate'),
/// which is a 'same'-size correlation with edge replication.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "biqa/distortions/common.hpp"

namespace biqa::distortions {

/// A single-channel image, row-major.
struct Plane {
  std::int64_t h = 0, w = 0;
  std::vector<float> v;
  Plane() = default;
  Plane(std::int64_t h_, std::int64_t w_, float fill = 0.0f)
      : h(h_), w(w_), v(static_cast<std::size_t>(h_ * w_), fill) {}
  float& operator()(std::int64_t y, std::int64_t x) { return v[static_cast<std::size_t>(y * w + x)]; }
  float operator()(std::int64_t y, std::int64_t x) const { return v[static_cast<std::size_t>(y * w + x)]; }
};

inline Plane channel(const Image& img, int c) {
  Plane p(img.size(0), img.size(1));
  const float* s = img.data();
  for (std::int64_t i = 0; i < p.h * p.w; ++i) p.v[static_cast<std::size_t>(i)] = s[i * 3 + c];
  return p;
}
inline void set_channel(Image& img, int c, const Plane& p) {
  float* d = img.data();
  for (std::int64_t i = 0; i < p.h * p.w; ++i) d[i * 3 + c] = p.v[static_cast<std::size_t>(i)];
}

/// A 2-D kernel, odd size, centre at (rows/2, cols/2) like MATLAB's for odd sizes.
struct Kernel {
  int rows = 0, cols = 0;
  std::vector<double> k;
  double operator()(int r, int c) const { return k[static_cast<std::size_t>(r * cols + c)]; }
};

/// fspecial('gaussian', size, sigma): exp(−r²/2σ²), tiny values (< eps·max) zeroed, sum 1.
inline std::vector<double> gaussian_1d(double sigma, int size) {
  std::vector<double> g(static_cast<std::size_t>(size));
  const double c = (size - 1) / 2.0;
  for (int i = 0; i < size; ++i) g[static_cast<std::size_t>(i)] = std::exp(-(i - c) * (i - c) / (2 * sigma * sigma));
  return g;
}
inline Kernel gaussian_kernel(double sigma, int size) {
  const auto g = gaussian_1d(sigma, size);
  Kernel k{size, size, std::vector<double>(static_cast<std::size_t>(size * size))};
  double mx = 0, sum = 0;
  for (int r = 0; r < size; ++r)
    for (int c = 0; c < size; ++c) mx = std::max(mx, k.k[static_cast<std::size_t>(r * size + c)] = g[r] * g[c]);
  for (auto& x : k.k) {
    if (x < std::numeric_limits<double>::epsilon() * mx) x = 0;
    sum += x;
  }
  for (auto& x : k.k) x /= sum;
  return k;
}
/// The kernel size the KADID code uses for a Gaussian of std sigma: 2·⌈2σ⌉ + 1.
inline int gaussian_size(double sigma) { return 2 * static_cast<int>(std::ceil(2 * sigma)) + 1; }

/// fspecial('disk', radius): a pillbox whose edge pixels hold the exact covered area.
inline Kernel disk_kernel(double rad) {
  const int crad = static_cast<int>(std::ceil(rad - 0.5));
  const int n = 2 * crad + 1;
  Kernel k{n, n, std::vector<double>(static_cast<std::size_t>(n * n))};
  const double r2 = rad * rad;
  auto area_arc = [&](double m) {  // ∫ of the circle's height from 0 to m, in closed form
    const double a = std::asin(std::clamp(m / rad, -1.0, 1.0));
    return r2 * (0.5 * a + 0.25 * std::sin(2 * a));
  };
  for (int yi = -crad; yi <= crad; ++yi) {
    for (int xi = -crad; xi <= crad; ++xi) {
      const double mx = std::max(std::abs(xi), std::abs(yi)), mn = std::min(std::abs(xi), std::abs(yi));
      const double m1 = (r2 < (mx + 0.5) * (mx + 0.5) + (mn - 0.5) * (mn - 0.5))
                            ? mn - 0.5
                            : std::sqrt(std::max(0.0, r2 - (mx + 0.5) * (mx + 0.5)));
      const double m2 = (r2 > (mx - 0.5) * (mx - 0.5) + (mn + 0.5) * (mn + 0.5))
                            ? mn + 0.5
                            : std::sqrt(std::max(0.0, r2 - (mx - 0.5) * (mx - 0.5)));
      const bool on_edge = (r2 < (mx + 0.5) * (mx + 0.5) + (mn + 0.5) * (mn + 0.5) &&
                            r2 > (mx - 0.5) * (mx - 0.5) + (mn - 0.5) * (mn - 0.5)) ||
                           (mn == 0 && mx - 0.5 < rad && mx + 0.5 >= rad);
      // Area inside the circle: the arc integral over [m1, m2] minus the part below the pixel,
      // plus the full-height strip [mn − 0.5, m1].
      double s = on_edge ? (area_arc(m2) - area_arc(m1)) - (mx - 0.5) * (m2 - m1) + (m1 - mn + 0.5) : 0.0;
      if ((mx + 0.5) * (mx + 0.5) + (mn + 0.5) * (mn + 0.5) < r2) s += 1.0;
      k.k[static_cast<std::size_t>((yi + crad) * n + xi + crad)] = s;
    }
  }
  auto at = [&](int r, int c) -> double& { return k.k[static_cast<std::size_t>(r * n + c)]; };
  at(crad, crad) = std::min(M_PI * r2, M_PI / 2);
  if (crad > 0 && rad > crad - 0.5 && r2 < (crad - 0.5) * (crad - 0.5) + 0.25) {
    // The circle barely reaches the outermost ring: move the sliver into the axis pixels.
    const double m1 = std::sqrt(r2 - (crad - 0.5) * (crad - 0.5));
    const double sg0 = 2 * (area_arc(m1) - m1 * (crad - 0.5));
    at(2 * crad, crad) = sg0;
    at(crad, 2 * crad) = sg0;
    at(crad, 0) = sg0;
    at(0, crad) = sg0;
    at(2 * crad - 1, crad) -= sg0;
    at(crad, 2 * crad - 1) -= sg0;
    at(crad, 1) -= sg0;
    at(1, crad) -= sg0;
  }
  at(crad, crad) = std::min(at(crad, crad), 1.0);
  double sum = 0;
  for (double x : k.k) sum += x;
  for (auto& x : k.k) x /= sum;
  return k;
}

/// fspecial('motion', len, theta): a 1-pixel-wide anti-aliased line of length len at angle theta
/// (degrees, counter-clockwise).
inline Kernel motion_kernel(double len, double theta_deg) {
  len = std::max(1.0, len);
  const double half = (len - 1) / 2;
  const double phi = std::fmod(std::fmod(theta_deg, 180.0) + 180.0, 180.0) / 180.0 * M_PI;
  const double cphi = std::cos(phi), sphi = std::sin(phi);
  const int xsign = cphi > 0 ? 1 : cphi < 0 ? -1 : 0;
  const double lw = 1.0;
  const double eps = std::sqrt(std::numeric_limits<double>::epsilon());
  const int sx = static_cast<int>(std::trunc(half * cphi + lw * xsign - len * eps));
  const int sy = static_cast<int>(std::trunc(half * sphi + lw - len * eps));
  // Grid x = 0, xsign, …, sx (empty steps when xsign = 0 give just x = 0), y = 0…sy.
  const int nx = xsign == 0 ? 1 : std::abs(sx) + 1, ny = sy + 1;
  std::vector<double> d(static_cast<std::size_t>(nx * ny));
  for (int yi = 0; yi < ny; ++yi) {
    for (int xi = 0; xi < nx; ++xi) {
      const double x = double(xi * (xsign == 0 ? 1 : xsign)), y = yi;
      double dist = y * cphi - x * sphi;
      const double rad = std::sqrt(x * x + y * y);
      if (rad >= half && std::abs(dist) <= lw) {
        const double x2last = half - std::abs((x + dist * sphi) / cphi);
        dist = std::sqrt(dist * dist + x2last * x2last);
      }
      dist = lw + eps - std::abs(dist);
      d[static_cast<std::size_t>(yi * nx + xi)] = dist < 0 ? 0 : dist;
    }
  }
  // h = [rot180(d) in the top-left quadrant, d in the bottom-right], sharing the centre.
  const int rows = 2 * ny - 1, cols = 2 * nx - 1;
  Kernel k{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols), 0.0)};
  for (int yi = 0; yi < ny; ++yi)
    for (int xi = 0; xi < nx; ++xi) {
      const double v = d[static_cast<std::size_t>(yi * nx + xi)];
      k.k[static_cast<std::size_t>((ny - 1 - yi) * cols + (nx - 1 - xi))] = v;
      k.k[static_cast<std::size_t>((ny - 1 + yi) * cols + (nx - 1 + xi))] = v;
    }
  double sum = 0;
  for (double x : k.k) sum += x;
  for (auto& x : k.k) x /= (sum + eps * len * len);
  if (cphi > 0) {  // flip up-down
    for (int r = 0; r < rows / 2; ++r)
      for (int c = 0; c < cols; ++c)
        std::swap(k.k[static_cast<std::size_t>(r * cols + c)], k.k[static_cast<std::size_t>((rows - 1 - r) * cols + c)]);
  }
  return k;
}

/// imfilter(p, k, 'replicate'): correlation, output the size of the input.
inline Plane filter_replicate(const Plane& p, const Kernel& k) {
  Plane out(p.h, p.w);
  const int cr = k.rows / 2, cc = k.cols / 2;
  for (std::int64_t y = 0; y < p.h; ++y) {
    for (std::int64_t x = 0; x < p.w; ++x) {
      double acc = 0;
      for (int r = 0; r < k.rows; ++r) {
        const std::int64_t yy = std::clamp<std::int64_t>(y + r - cr, 0, p.h - 1);
        for (int c = 0; c < k.cols; ++c) {
          const double kv = k(r, c);
          if (kv == 0) continue;
          const std::int64_t xx = std::clamp<std::int64_t>(x + c - cc, 0, p.w - 1);
          acc += kv * p(yy, xx);
        }
      }
      out(y, x) = float(acc);
    }
  }
  return out;
}

/// Separable Gaussian filtering with replicate borders; equal to filter_replicate with
/// gaussian_kernel(sigma, size) up to rounding (the eps-zeroing only affects < 1e-16 weights).
inline Plane gaussian_filter(const Plane& p, double sigma, int size) {
  auto g = gaussian_1d(sigma, size);
  double s = 0;
  for (double x : g) s += x;
  for (auto& x : g) x /= s;
  const int c = size / 2;
  Plane tmp(p.h, p.w), out(p.h, p.w);
  for (std::int64_t y = 0; y < p.h; ++y)
    for (std::int64_t x = 0; x < p.w; ++x) {
      double acc = 0;
      for (int i = 0; i < size; ++i) acc += g[static_cast<std::size_t>(i)] * p(y, std::clamp<std::int64_t>(x + i - c, 0, p.w - 1));
      tmp(y, x) = float(acc);
    }
  for (std::int64_t y = 0; y < p.h; ++y)
    for (std::int64_t x = 0; x < p.w; ++x) {
      double acc = 0;
      for (int i = 0; i < size; ++i) acc += g[static_cast<std::size_t>(i)] * tmp(std::clamp<std::int64_t>(y + i - c, 0, p.h - 1), x);
      out(y, x) = float(acc);
    }
  return out;
}

inline Image filter_image(const Image& img, const Kernel& k) {
  Image out = new_image(img.size(0), img.size(1));
  for (int c = 0; c < 3; ++c) set_channel(out, c, filter_replicate(channel(img, c), k));
  return out;
}
inline Image gaussian_filter_image(const Image& img, double sigma, int size) {
  Image out = new_image(img.size(0), img.size(1));
  for (int c = 0; c < 3; ++c) set_channel(out, c, gaussian_filter(channel(img, c), sigma, size));
  return out;
}

}  // namespace biqa::distortions

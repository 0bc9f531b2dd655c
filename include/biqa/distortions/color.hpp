#pragma once
/// @file
/// Colour family: colour diffusion (#4), colour shift (#5), colour quantisation (#6), colour
/// saturation 1 (#7) and 2 (#8).

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "biqa/distortions/color_space.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/filters.hpp"

namespace biqa::distortions {

/// #4 color_diffusion: in Lab, blur a* and b* with a Gaussian of σ = 1.5·amount + 2 (size
/// 2·⌈2σ⌉+1, replicate) and multiply them by amount; back to RGB, clipped.
inline Image color_diffusion(const Image& in, double amount) {
  check_rgb(in, "color_diffusion");
  Image lab = rgb2lab(in);
  const double sigma = 1.5 * amount + 2;
  for (int c = 1; c < 3; ++c) {
    Plane p = gaussian_filter(channel(lab, c), sigma, gaussian_size(sigma));
    for (auto& v : p.v) v = float(v * amount);
    set_channel(lab, c, p);
  }
  Image out = lab2rgb(lab);
  truncate(out);
  return out;
}

namespace detail {
/// Linear-interpolated percentile (q in [0,1]) of a copy of the values.
inline float percentile(std::vector<float> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  const double f = pos - double(i);
  return i + 1 < v.size() ? float(v[i] * (1 - f) + v[i + 1] * f) : v[i];
}
}  // namespace detail

/// #5 color_shift: the green channel moved by `amount` px in a random direction (both components
/// ≥ 0, as MATLAB normr(rand(1,2))), blended in where the image has edges.
inline Image color_shift(const Image& in, double amount, Rng& rng) {
  check_rgb(in, "color_shift");
  const std::int64_t h = in.size(0), w = in.size(1);
  Plane gray(h, w);
  for (std::int64_t i = 0; i < h * w; ++i) gray.v[static_cast<std::size_t>(i)] = gray_px(in.data() + 3 * i);
  // Gradient magnitude with MATLAB `gradient` (central differences, one-sided at the borders).
  Plane e(h, w);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const double gx = w == 1 ? 0 : (x == 0) ? gray(y, 1) - gray(y, 0) : (x == w - 1) ? gray(y, x) - gray(y, x - 1) : (gray(y, x + 1) - gray(y, x - 1)) / 2;
      const double gy = h == 1 ? 0 : (y == 0) ? gray(1, x) - gray(0, x) : (y == h - 1) ? gray(y, x) - gray(y - 1, x) : (gray(y + 1, x) - gray(y - 1, x)) / 2;
      e(y, x) = float(std::sqrt(gx * gx + gy * gy));
    }
  e = gaussian_filter(e, 4.0, gaussian_size(4.0));
  float lo = *std::min_element(e.v.begin(), e.v.end()), hi = *std::max_element(e.v.begin(), e.v.end());
  for (auto& v : e.v) v = std::clamp(hi > lo ? (v - lo) / (hi - lo) : v, 0.1f, 1.0f);
  // ps2: stretch the 1st–99th percentile range to [0,1] (the exact MATLAB helper is unknown).
  const float p1 = detail::percentile(e.v, 0.01), p99 = detail::percentile(e.v, 0.99);
  for (auto& v : e.v) v = p99 > p1 ? std::clamp((v - p1) / (p99 - p1), 0.0f, 1.0f) : v;

  const double rx = rng.uniform(), ry = rng.uniform();
  const double norm = std::sqrt(rx * rx + ry * ry);
  const std::int64_t dx = norm > 0 ? std::llround(rx / norm * amount) : 0;
  const std::int64_t dy = norm > 0 ? std::llround(ry / norm * amount) : 0;
  Image out = in.clone();
  float* o = out.data();
  const float* s = in.data();
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t sy = std::clamp<std::int64_t>(y - dy, 0, h - 1), sx = std::clamp<std::int64_t>(x - dx, 0, w - 1);
      const float shifted = s[(sy * w + sx) * 3 + 1], ev = e(y, x);
      o[(y * w + x) * 3 + 1] = shifted * ev + s[(y * w + x) * 3 + 1] * (1 - ev);
    }
  return out;
}

/// Minimum-variance colour palette (greedy box splitting on a 32³ RGB histogram, Wu-style):
/// repeatedly split the box with the largest squared error at the plane that minimises the summed
/// error of the two halves. Returns up to n colours in [0,1].
inline std::vector<std::array<float, 3>> min_variance_palette(const Image& in, int n) {
  constexpr int B = 32;
  struct Cell { double cnt = 0, s[3] = {0, 0, 0}, sq = 0; };
  std::vector<Cell> hist(B * B * B);
  const float* p = in.data();
  for (std::int64_t i = 0; i < in.size(0) * in.size(1); ++i) {
    int idx[3];
    double v[3];
    for (int c = 0; c < 3; ++c) {
      v[c] = clamp01(double(p[3 * i + c]));
      idx[c] = std::min(B - 1, static_cast<int>(v[c] * B));
    }
    Cell& cell = hist[static_cast<std::size_t>((idx[0] * B + idx[1]) * B + idx[2])];
    cell.cnt += 1;
    for (int c = 0; c < 3; ++c) {
      cell.s[c] += v[c];
      cell.sq += v[c] * v[c];
    }
  }
  struct Box { int lo[3], hi[3]; Cell sum; double err; };
  auto err_of = [](const Cell& c) {
    return c.cnt > 0 ? c.sq - (c.s[0] * c.s[0] + c.s[1] * c.s[1] + c.s[2] * c.s[2]) / c.cnt : 0.0;
  };
  auto add = [](Cell& a, const Cell& b) {
    a.cnt += b.cnt; a.sq += b.sq;
    for (int c = 0; c < 3; ++c) a.s[c] += b.s[c];
  };
  // Marginal sums of a box along one axis.
  auto marginal = [&](const Box& bx, int axis) {
    std::vector<Cell> m(B);
    for (int r = bx.lo[0]; r < bx.hi[0]; ++r)
      for (int g = bx.lo[1]; g < bx.hi[1]; ++g)
        for (int b = bx.lo[2]; b < bx.hi[2]; ++b) {
          const int k[3] = {r, g, b};
          add(m[static_cast<std::size_t>(k[axis])], hist[static_cast<std::size_t>((r * B + g) * B + b)]);
        }
    return m;
  };
  Box all{{0, 0, 0}, {B, B, B}, {}, 0};
  for (const auto& c : hist) add(all.sum, c);
  all.err = err_of(all.sum);
  std::vector<Box> boxes{all};
  while (static_cast<int>(boxes.size()) < n) {
    // The box with the largest error that can still be split.
    int best = -1;
    for (int i = 0; i < static_cast<int>(boxes.size()); ++i) {
      const Box& bx = boxes[static_cast<std::size_t>(i)];
      const bool splittable = bx.sum.cnt > 1 && bx.err > 0;
      if (splittable && (best < 0 || bx.err > boxes[static_cast<std::size_t>(best)].err)) best = i;
    }
    if (best < 0) break;
    Box bx = boxes[static_cast<std::size_t>(best)];
    double best_err = INFINITY;
    int best_axis = -1, best_cut = 0;
    Cell best_left;
    for (int axis = 0; axis < 3; ++axis) {
      const auto m = marginal(bx, axis);
      Cell left;
      for (int cut = bx.lo[axis] + 1; cut < bx.hi[axis]; ++cut) {
        add(left, m[static_cast<std::size_t>(cut - 1)]);
        if (left.cnt == 0 || left.cnt == bx.sum.cnt) continue;
        Cell right = bx.sum;
        right.cnt -= left.cnt; right.sq -= left.sq;
        for (int c = 0; c < 3; ++c) right.s[c] -= left.s[c];
        const double e = err_of(left) + err_of(right);
        if (e < best_err) { best_err = e; best_axis = axis; best_cut = cut; best_left = left; }
      }
    }
    if (best_axis < 0) {  // all samples of this box fall in one histogram cell
      boxes[static_cast<std::size_t>(best)].err = 0;
      continue;
    }
    Box a = bx, b = bx;
    a.hi[best_axis] = best_cut;
    b.lo[best_axis] = best_cut;
    a.sum = best_left;
    b.sum = bx.sum;
    b.sum.cnt -= a.sum.cnt; b.sum.sq -= a.sum.sq;
    for (int c = 0; c < 3; ++c) b.sum.s[c] -= a.sum.s[c];
    a.err = err_of(a.sum);
    b.err = err_of(b.sum);
    boxes[static_cast<std::size_t>(best)] = a;
    boxes.push_back(b);
  }
  std::vector<std::array<float, 3>> palette;
  for (const auto& bx : boxes)
    if (bx.sum.cnt > 0)
      palette.push_back({float(bx.sum.s[0] / bx.sum.cnt), float(bx.sum.s[1] / bx.sum.cnt), float(bx.sum.s[2] / bx.sum.cnt)});
  return palette;
}

/// Floyd–Steinberg error diffusion (7/16 right, 3/16 below-left, 5/16 below, 1/16 below-right),
/// raster order, nearest palette colour by squared RGB distance.
inline Image dither_to_palette(const Image& in, const std::vector<std::array<float, 3>>& palette) {
  const std::int64_t h = in.size(0), w = in.size(1);
  std::vector<float> buf(in.data(), in.data() + in.numel());
  Image out = new_image(h, w);
  auto push = [&](std::int64_t y, std::int64_t x, const float* err, float f) {
    if (y >= h || x < 0 || x >= w) return;
    for (int c = 0; c < 3; ++c) buf[static_cast<std::size_t>((y * w + x) * 3 + c)] += err[c] * f;
  };
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      float* v = buf.data() + (y * w + x) * 3;
      for (int c = 0; c < 3; ++c) v[c] = clamp01(v[c]);
      std::size_t best = 0;
      float bd = INFINITY;
      for (std::size_t k = 0; k < palette.size(); ++k) {
        float d = 0;
        for (int c = 0; c < 3; ++c) d += (v[c] - palette[k][static_cast<std::size_t>(c)]) * (v[c] - palette[k][static_cast<std::size_t>(c)]);
        if (d < bd) { bd = d; best = k; }
      }
      float err[3];
      for (int c = 0; c < 3; ++c) {
        out.data()[(y * w + x) * 3 + c] = palette[best][static_cast<std::size_t>(c)];
        err[c] = v[c] - palette[best][static_cast<std::size_t>(c)];
      }
      push(y, x + 1, err, 7.0f / 16);
      push(y + 1, x - 1, err, 3.0f / 16);
      push(y + 1, x, err, 5.0f / 16);
      push(y + 1, x + 1, err, 1.0f / 16);
    }
  return out;
}

/// #6 color_quantization: rgb2ind(I, n) (minimum-variance palette, Floyd–Steinberg), ind2rgb.
inline Image color_quantization(const Image& in, double colours) {
  check_rgb(in, "color_quantization");
  const int n = std::max(2, static_cast<int>(std::lround(colours)));
  return dither_to_palette(in, min_variance_palette(in, n));
}

/// #7 color_saturation_1: HSV saturation multiplied by factor (may be negative).
inline Image color_saturation_1(const Image& in, double factor) {
  check_rgb(in, "color_saturation_1");
  Image hsv = rgb2hsv(in);
  float* p = hsv.data();
  for (std::int64_t i = 1; i < hsv.numel(); i += 3) p[i] = float(p[i] * factor);
  return hsv2rgb(hsv);
}

/// #8 color_saturation_2: Lab chroma (a*, b*) multiplied by s; back to RGB, clipped.
inline Image color_saturation_2(const Image& in, double s) {
  check_rgb(in, "color_saturation_2");
  Image lab = rgb2lab(in);
  float* p = lab.data();
  for (std::int64_t i = 0; i < lab.numel(); i += 3) {
    p[i + 1] = float(p[i + 1] * s);
    p[i + 2] = float(p[i + 2] * s);
  }
  Image out = lab2rgb(lab);
  truncate(out);
  return out;
}

}  // namespace biqa::distortions

#pragma once
/// @file
/// Spatial family: jitter (#19), non-eccentricity patch (#20), pixelate (#21), quantisation (#22),
/// colour block (#23).

#include <algorithm>
#include <cmath>
#include <vector>

#include "biqa/distortions/common.hpp"

namespace biqa::distortions {

/// #19 jitter (MATLAB imscatter, 5 passes): each pass draws a displacement (dx, dy) ~ N(0, amount²)
/// per pixel (all dx first, then all dy, row-major) and resamples bilinearly at (x − dx, y − dy)
/// with replicated borders.
inline Image jitter(const Image& in, double amount, Rng& rng, int passes = 5) {
  check_rgb(in, "jitter");
  const std::int64_t h = in.size(0), w = in.size(1), n = h * w;
  Image cur = in.clone();
  std::vector<double> dx(static_cast<std::size_t>(n)), dy(static_cast<std::size_t>(n));
  for (int it = 0; it < passes; ++it) {
    for (auto& v : dx) v = amount * rng.normal();
    for (auto& v : dy) v = amount * rng.normal();
    Image next = new_image(h, w);
    const float* s = cur.data();
    float* d = next.data();
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const auto i = static_cast<std::size_t>(y * w + x);
        const double sx = std::clamp(double(x) - dx[i], 0.0, double(w - 1));
        const double sy = std::clamp(double(y) - dy[i], 0.0, double(h - 1));
        const auto x0 = static_cast<std::int64_t>(sx), y0 = static_cast<std::int64_t>(sy);
        const std::int64_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
        const double fx = sx - double(x0), fy = sy - double(y0);
        for (int c = 0; c < 3; ++c) {
          const double top = s[(y0 * w + x0) * 3 + c] * (1 - fx) + s[(y0 * w + x1) * 3 + c] * fx;
          const double bot = s[(y1 * w + x0) * 3 + c] * (1 - fx) + s[(y1 * w + x1) * 3 + c] * fx;
          d[i * 3 + static_cast<std::size_t>(c)] = float(top * (1 - fy) + bot * fy);
        }
      }
    cur = next;
  }
  return cur;
}

/// #20 non_eccentricity_patch: `count` times, a 16×16 patch with top-left (h0, w0), each uniform in
/// [16, dim − 32] and rounded, is copied to (round(h0 + (u − 0.5)·16), round(w0 + (u − 0.5)·16)),
/// in place and in sequence. Draw order per patch: h0, w0, vertical offset, horizontal offset.
/// Images smaller than 48 px on a side use the whole valid range instead.
inline Image non_eccentricity_patch(const Image& in, double count, Rng& rng) {
  check_rgb(in, "non_eccentricity_patch");
  const std::int64_t h = in.size(0), w = in.size(1);
  const std::int64_t ph = std::min<std::int64_t>(16, h), pw = std::min<std::int64_t>(16, w);
  Image out = in.clone();
  float* d = out.data();
  std::vector<float> patch(static_cast<std::size_t>(ph * pw * 3));
  auto pick = [&](std::int64_t dim, std::int64_t p) {
    const double lo = dim >= 48 ? 16.0 : 0.0, hi = dim >= 48 ? double(dim - 32) : double(dim - p);
    return static_cast<std::int64_t>(std::llround(lo + rng.uniform() * (hi - lo)));
  };
  const int n = static_cast<int>(std::lround(count));
  for (int k = 0; k < n; ++k) {
    const std::int64_t h0 = pick(h, ph), w0 = pick(w, pw);
    const std::int64_t hd = std::clamp<std::int64_t>(std::llround(double(h0) + (rng.uniform() - 0.5) * 16), 0, h - ph);
    const std::int64_t wd = std::clamp<std::int64_t>(std::llround(double(w0) + (rng.uniform() - 0.5) * 16), 0, w - pw);
    for (std::int64_t y = 0; y < ph; ++y)
      std::copy_n(d + ((h0 + y) * w + w0) * 3, pw * 3, patch.data() + y * pw * 3);
    for (std::int64_t y = 0; y < ph; ++y)
      std::copy_n(patch.data() + y * pw * 3, pw * 3, d + ((hd + y) * w + wd) * 3);
  }
  return out;
}

namespace detail {
/// MATLAB imresize(…, 'nearest') source index for output index i (0-based) at the given scale.
inline std::int64_t nearest_source(std::int64_t i, double scale, std::int64_t in_size) {
  const double u = double(i + 1) / scale + 0.5 * (1 - 1 / scale);  // 1-based source coordinate
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(u + 0.5)) - 1, 0, in_size - 1);
}
inline Image resize_nearest(const Image& in, std::int64_t oh, std::int64_t ow, double sy, double sx) {
  Image out = new_image(oh, ow);
  const std::int64_t w = in.size(1);
  for (std::int64_t y = 0; y < oh; ++y) {
    const std::int64_t ys = nearest_source(y, sy, in.size(0));
    for (std::int64_t x = 0; x < ow; ++x) {
      const std::int64_t xs = nearest_source(x, sx, w);
      std::copy_n(in.data() + (ys * w + xs) * 3, 3, out.data() + (y * ow + x) * 3);
    }
  }
  return out;
}
}  // namespace detail

/// #21 pixelate: z = 0.95 − s^0.6; imresize by z (size ⌈z·dim⌉) and back, both 'nearest'.
inline Image pixelate(const Image& in, double s) {
  check_rgb(in, "pixelate");
  const double z = 0.95 - std::pow(s, 0.6);
  BIQA_CHECK(z > 0, ErrorCode::invalid_argument, "pixelate: strength ", s, " leaves no pixels");
  const std::int64_t h = in.size(0), w = in.size(1);
  const std::int64_t sh = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(z * double(h) - 1e-9)));
  const std::int64_t sw = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(z * double(w) - 1e-9)));
  const Image small = detail::resize_nearest(in, sh, sw, z, z);
  return detail::resize_nearest(small, h, w, double(h) / double(sh), double(w) / double(sw));
}

/// Multi-level Otsu thresholds (MATLAB multithresh) over all samples: a 256-bin histogram of
/// [min, max], classes of consecutive bins chosen to maximise the between-class variance. Solved
/// exactly by dynamic programming (MATLAB searches numerically). Threshold k lies midway between
/// the last occupied bin of class k and the first occupied bin of class k+1 (bin b is the value
/// min + b/255 · (max − min)).
inline std::vector<double> multithresh(const Image& in, int levels) {
  constexpr int L = 256;
  const float* p = in.data();
  const std::int64_t n = in.numel();
  const float lo = *std::min_element(p, p + n), hi = *std::max_element(p, p + n);
  std::vector<double> cnt(L, 0.0), sum(L, 0.0);
  const double span = hi > lo ? double(hi) - lo : 1.0;
  for (std::int64_t i = 0; i < n; ++i) {
    // Round half up, with a margin that makes exact ties (common for 8-bit data) immune to
    // float32 vs float64 differences in the input.
    const int b = std::clamp(static_cast<int>(std::floor((double(p[i]) - lo) / span * (L - 1) + 0.5 + 1e-6)), 0, L - 1);
    cnt[static_cast<std::size_t>(b)] += 1;
    sum[static_cast<std::size_t>(b)] += b;
  }
  std::vector<double> C(L + 1, 0.0), S(L + 1, 0.0);  // prefix sums
  for (int i = 0; i < L; ++i) {
    C[static_cast<std::size_t>(i + 1)] = C[static_cast<std::size_t>(i)] + cnt[static_cast<std::size_t>(i)];
    S[static_cast<std::size_t>(i + 1)] = S[static_cast<std::size_t>(i)] + sum[static_cast<std::size_t>(i)];
  }
  auto gain = [&](int a, int b) {  // bins [a, b)
    const double c = C[static_cast<std::size_t>(b)] - C[static_cast<std::size_t>(a)];
    const double s = S[static_cast<std::size_t>(b)] - S[static_cast<std::size_t>(a)];
    return c > 0 ? s * s / c : 0.0;
  };
  const int K = levels + 1;  // classes
  BIQA_CHECK(levels >= 1 && K <= L, ErrorCode::invalid_argument, "multithresh: bad level count ", levels);
  // best[k][b]: best gain for the first b bins split into k non-empty-range classes.
  const double neg = -INFINITY;
  std::vector<std::vector<double>> best(static_cast<std::size_t>(K + 1), std::vector<double>(L + 1, neg));
  std::vector<std::vector<int>> arg(static_cast<std::size_t>(K + 1), std::vector<int>(L + 1, 0));
  best[0][0] = 0;
  for (int k = 1; k <= K; ++k)
    for (int b = k; b <= L - (K - k); ++b)
      for (int a = k - 1; a < b; ++a) {
        const double prev = best[static_cast<std::size_t>(k - 1)][static_cast<std::size_t>(a)];
        if (prev == neg) continue;
        const double g = prev + gain(a, b);
        if (g > best[static_cast<std::size_t>(k)][static_cast<std::size_t>(b)]) {
          best[static_cast<std::size_t>(k)][static_cast<std::size_t>(b)] = g;
          arg[static_cast<std::size_t>(k)][static_cast<std::size_t>(b)] = a;
        }
      }
  std::vector<int> ends(static_cast<std::size_t>(K));
  for (int k = K, b = L; k >= 1; --k) {
    ends[static_cast<std::size_t>(k - 1)] = b;
    b = arg[static_cast<std::size_t>(k)][static_cast<std::size_t>(b)];
  }
  // A class boundary may sit anywhere in a run of empty bins with the same score; place the
  // threshold midway between the last occupied bin below and the first occupied bin above, so
  // that the result does not depend on how ties are broken.
  std::vector<double> t;
  for (int k = 0; k < levels; ++k) {
    int below = ends[static_cast<std::size_t>(k)] - 1, above = ends[static_cast<std::size_t>(k)];
    while (below > 0 && cnt[static_cast<std::size_t>(below)] == 0) --below;
    while (above < L - 1 && cnt[static_cast<std::size_t>(above)] == 0) ++above;
    t.push_back(lo + (below + above) / 2.0 / (L - 1) * span);
  }
  return t;
}

/// #22 quantization: t = multithresh(I, N); imquantize(I, t, [0, t(2:end), 1]).
inline Image quantization(const Image& in, double levels) {
  check_rgb(in, "quantization");
  const int n = std::max(1, static_cast<int>(std::lround(levels)));
  const auto t = multithresh(in, n);
  std::vector<double> values{0.0};
  for (int k = 1; k < n; ++k) values.push_back(t[static_cast<std::size_t>(k)]);
  values.push_back(1.0);
  Image out = in.clone();
  float* p = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const auto cls = std::lower_bound(t.begin(), t.end(), double(p[i])) - t.begin();  // x ≤ t_k → class k
    p[i] = float(values[static_cast<std::size_t>(cls)]);
  }
  return out;
}

/// #23 color_block: `count` opaque 32×32 squares of a uniform random colour at top-left
/// (round(u·(W−32)), round(u·(H−32))). Draw order per square: x, y, r, g, b.
inline Image color_block(const Image& in, double count, Rng& rng) {
  check_rgb(in, "color_block");
  const std::int64_t h = in.size(0), w = in.size(1);
  const std::int64_t bh = std::min<std::int64_t>(32, h), bw = std::min<std::int64_t>(32, w);
  Image out = in.clone();
  const int n = static_cast<int>(std::lround(count));
  for (int k = 0; k < n; ++k) {
    const std::int64_t x0 = std::llround(rng.uniform() * double(w - bw));
    const std::int64_t y0 = std::llround(rng.uniform() * double(h - bh));
    const float col[3] = {float(rng.uniform()), float(rng.uniform()), float(rng.uniform())};
    for (std::int64_t y = y0; y < y0 + bh; ++y)
      for (std::int64_t x = x0; x < x0 + bw; ++x) std::copy_n(col, 3, out.data() + (y * w + x) * 3);
  }
  return out;
}

}  // namespace biqa::distortions

#pragma once
/// @file
/// Building blocks of the natural-scene-statistics models (BRISQUE, NIQE): grey conversion,
/// the 7×7 Gaussian local mean, bicubic halving, MSCN coefficients and the (asymmetric)
/// generalized Gaussian moment-matching fit. Arithmetic follows OpenCV's float32 pipeline
/// (cv::cvtColor, cv::GaussianBlur, cv::resize INTER_CUBIC), because BRISQUE's trained SVR was
/// fitted to features computed that way and small feature shifts move the score.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::models::nss {

/// A single-channel float32 image, row-major.
struct Plane {
  int rows = 0, cols = 0;
  std::vector<float> v;
  Plane() = default;
  Plane(int r, int c, float fill = 0.f) : rows(r), cols(c), v(std::size_t(r) * c, fill) {}
  float& operator()(int r, int c) { return v[std::size_t(r) * cols + c]; }
  float operator()(int r, int c) const { return v[std::size_t(r) * cols + c]; }
};

/// RGB (or grey) float [0,1] → grey in [0,1] through 8 bits, as OpenCV does for an 8-bit image:
/// round to uint8, then cv::COLOR_BGR2GRAY's fixed-point weights (0.299, 0.587, 0.114 in Q15,
/// rounded), then /255.
inline Plane grey_from_rgb(const Tensor<float>& image) {
  const Shape& s = image.shape();
  BIQA_CHECK(s.rank() == 2 || (s.rank() == 3 && (s[2] == 1 || s[2] == 3 || s[2] == 4)),
             ErrorCode::invalid_argument, "expected an H×W×3 RGB or H×W grey image, got ",
             s.to_string());
  BIQA_CHECK(s[0] >= 1 && s[1] >= 1 && s[0] < (1 << 20) && s[1] < (1 << 20),
             ErrorCode::invalid_argument, "image of ", s.to_string(), " is empty or too large");
  const Tensor<float> img = image.contiguous();
  const int rows = static_cast<int>(s[0]), cols = static_cast<int>(s[1]);
  const int ch = s.rank() == 2 ? 1 : static_cast<int>(s[2]);
  auto to_u8 = [](float x) -> int {
    if (!(x == x)) return 0;  // NaN
    return static_cast<int>(std::lrint(std::clamp(x * 255.f, 0.f, 255.f)));
  };
  Plane g(rows, cols);
  const float* p = img.data();
  for (std::size_t i = 0; i < g.v.size(); ++i, p += ch) {
    int y;
    if (ch < 3) {
      y = to_u8(p[0]);
    } else {
      const int r = to_u8(p[0]), gr = to_u8(p[1]), b = to_u8(p[2]);
      y = (r * 9798 + gr * 19235 + b * 3735 + (1 << 14)) >> 15;
    }
    g.v[i] = static_cast<float>(y) * (1.f / 255.f);
  }
  return g;
}

/// The normalised 7-tap Gaussian with sigma 7/6 (cv::getGaussianKernel, rounded to float).
inline std::array<float, 7> gaussian7() {
  const double sigma = 7.0 / 6.0;
  std::array<double, 7> k{};
  double sum = 0;
  for (int i = 0; i < 7; ++i) {
    const double x = i - 3;
    k[i] = std::exp(-x * x / (2 * sigma * sigma));
    sum += k[i];
  }
  std::array<float, 7> out{};
  for (int i = 0; i < 7; ++i) out[i] = static_cast<float>(k[i] / sum);
  return out;
}

/// Separable 7×7 Gaussian blur with replicated borders (rows first, then columns).
inline Plane gaussian_blur7(const Plane& in) {
  static const std::array<float, 7> k = gaussian7();
  Plane tmp(in.rows, in.cols), out(in.rows, in.cols);
  for (int r = 0; r < in.rows; ++r) {
    const float* src = &in.v[std::size_t(r) * in.cols];
    float* dst = &tmp.v[std::size_t(r) * in.cols];
    for (int c = 0; c < in.cols; ++c) {
      float s = k[0] * src[std::clamp(c - 3, 0, in.cols - 1)];
      for (int t = 1; t < 7; ++t) s = std::fma(src[std::clamp(c + t - 3, 0, in.cols - 1)], k[t], s);
      dst[c] = s;
    }
  }
  for (int r = 0; r < in.rows; ++r) {
    float* dst = &out.v[std::size_t(r) * in.cols];
    const float* rowp[7];
    for (int t = 0; t < 7; ++t)
      rowp[t] = &tmp.v[std::size_t(std::clamp(r + t - 3, 0, in.rows - 1)) * in.cols];
    for (int c = 0; c < in.cols; ++c) {
      float s = k[3] * rowp[3][c];
      for (int t = 1; t <= 3; ++t) s = std::fma(rowp[3 + t][c] + rowp[3 - t][c], k[3 + t], s);
      dst[c] = s;
    }
  }
  return out;
}

namespace detail {
/// Keys' cubic with a = -0.75 (OpenCV's INTER_CUBIC), weights for taps at -1, 0, 1, 2.
inline std::array<float, 4> cubic_weights(float x) {
  const float A = -0.75f;
  std::array<float, 4> w{};
  w[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  w[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = 1.f - w[0] - w[1] - w[2];
  return w;
}
struct Taps {
  std::vector<int> first;               ///< source index of the tap at -1 (before clamping)
  std::vector<std::array<float, 4>> w;
};
inline Taps cubic_taps(int src, int dst) {
  Taps t;
  const double scale = 1.0 / (double(dst) / src);
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    const int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    t.first.push_back(s - 1);
    t.w.push_back(cubic_weights(f));
  }
  return t;
}
}  // namespace detail

/// Bicubic resize without antialiasing, half-pixel centres, clamped borders
/// (cv::resize(..., INTER_CUBIC) on a float image).
inline Plane resize_cubic(const Plane& in, int rows, int cols) {
  BIQA_CHECK(rows >= 1 && cols >= 1, ErrorCode::invalid_argument, "image too small to halve (",
             in.rows, "×", in.cols, ")");
  if (rows == in.rows && cols == in.cols) return in;
  const detail::Taps tx = detail::cubic_taps(in.cols, cols), ty = detail::cubic_taps(in.rows, rows);
  Plane h(in.rows, cols);
  for (int r = 0; r < in.rows; ++r) {
    const float* src = &in.v[std::size_t(r) * in.cols];
    for (int c = 0; c < cols; ++c) {
      float s = 0;
      for (int t = 0; t < 4; ++t) s += tx.w[c][t] * src[std::clamp(tx.first[c] + t, 0, in.cols - 1)];
      h(r, c) = s;
    }
  }
  Plane out(rows, cols);
  for (int r = 0; r < rows; ++r) {
    const float* rp[4];
    for (int t = 0; t < 4; ++t)
      rp[t] = &h.v[std::size_t(std::clamp(ty.first[r] + t, 0, in.rows - 1)) * cols];
    const auto& w = ty.w[r];
    // OpenCV's vector loop adds the taps from the last one back; its scalar tail (the last
    // cols % 4 columns) adds them in order. Matching both keeps the result bit-identical.
    const int vec_end = cols - cols % 4;
    for (int c = 0; c < vec_end; ++c)
      out(r, c) = w[0] * rp[0][c] + (w[1] * rp[1][c] + (w[2] * rp[2][c] + w[3] * rp[3][c]));
    for (int c = vec_end; c < cols; ++c)
      out(r, c) = w[0] * rp[0][c] + w[1] * rp[1][c] + w[2] * rp[2][c] + w[3] * rp[3][c];
  }
  return out;
}

/// Mean-subtracted contrast-normalised coefficients: (I - mu) / (sigma + 1/255), with mu and
/// sigma from the 7×7 Gaussian window. sigma is sqrt(E[I²] - mu²) in float; a slightly
/// negative variance gives NaN exactly as in OpenCV, and NaNs then count as neither positive nor
/// negative in the fits below.
inline Plane mscn(const Plane& img) {
  const Plane mu = gaussian_blur7(img);
  Plane sq(img.rows, img.cols);
  for (std::size_t i = 0; i < sq.v.size(); ++i) sq.v[i] = img.v[i] * img.v[i];
  const Plane e2 = gaussian_blur7(sq);
  Plane out(img.rows, img.cols);
  const float eps = static_cast<float>(1.0 / 255);
  for (std::size_t i = 0; i < out.v.size(); ++i) {
    const float var = e2.v[i] - mu.v[i] * mu.v[i];
    const float sigma = std::sqrt(var) + eps;
    out.v[i] = (img.v[i] - mu.v[i]) / sigma;
  }
  return out;
}

struct AggdFit {
  double gamma = 0, left_sigma = 0, right_sigma = 0;
};

/// The table r(g) = Γ(2/g)² / (Γ(1/g) Γ(3/g)) on the grid g = 0.2, 0.201, ... < 10, built with
/// the same running sum as the reference so that the grid points are bit-identical.
struct GammaTable {
  std::vector<double> gam, ratio;
  GammaTable() {
    for (double g = 0.2; g < 10; g += 0.001) {
      gam.push_back(g);
      ratio.push_back(std::tgamma(2 / g) * std::tgamma(2 / g) /
                      (std::tgamma(1 / g) * std::tgamma(3 / g)));
    }
  }
  /// The first local minimum of |r(g) - target| along the grid (the reference's early exit).
  double solve(double target) const {
    double prev_gamma = 0, prev_diff = 1e10;
    for (std::size_t i = 0; i < gam.size(); ++i) {
      const double diff = std::abs(ratio[i] - target);
      if (diff > prev_diff) break;
      prev_diff = diff;
      prev_gamma = gam[i];
    }
    return prev_gamma;
  }
  static const GammaTable& get() {
    static const GammaTable table;
    return table;
  }
};

/// Asymmetric generalized Gaussian fit by moment matching (Lasmar, Stitou, Berthoumieu 2009),
/// over every value of v (zeros and NaNs count in the total but on neither side).
inline AggdFit aggd_fit(const float* v, std::size_t n) {
  long long pos = 0, neg = 0;
  double pos_sq = 0, neg_sq = 0, abs_sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = v[i];
    if (x > 0) {
      ++pos;
      pos_sq += x * x;
      abs_sum += x;
    } else if (x < 0) {
      ++neg;
      neg_sq += x * x;
      abs_sum -= x;
    }
  }
  AggdFit f;
  f.left_sigma = std::sqrt(neg_sq / double(neg));
  f.right_sigma = std::sqrt(pos_sq / double(pos));
  const double gh = f.left_sigma / f.right_sigma;
  const double total = double(n);
  const double rhat = std::pow(abs_sum / total, 2.0) / ((neg_sq + pos_sq) / total);
  const double rhat_norm = rhat * (std::pow(gh, 3) + 1) * (gh + 1) / std::pow(gh * gh + 1, 2);
  f.gamma = GammaTable::get().solve(rhat_norm);
  return f;
}

}  // namespace biqa::models::nss

#pragma once
/// @file
/// MATLAB `spline` for the tone curves of the KADID generator: with 3 points the single parabola
/// through them, with 4 or more points the not-a-knot cubic spline. `curves` applies such a tone
/// curve to every sample and clips to [0,1].

#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/distortions/common.hpp"

namespace biqa::distortions {

class Spline {
 public:
  Spline(std::vector<double> x, std::vector<double> y) : x_(std::move(x)) {
    const std::size_t n = x_.size();
    BIQA_CHECK(n >= 2 && y.size() == n, ErrorCode::invalid_argument, "spline: need >= 2 points");
    for (std::size_t i = 1; i < n; ++i)
      BIQA_CHECK(x_[i] > x_[i - 1], ErrorCode::invalid_argument, "spline: x must increase");
    if (n == 2) {
      coef_.push_back({y[0], (y[1] - y[0]) / (x_[1] - x_[0]), 0, 0});
    } else if (n == 3) {
      // One parabola through the three points, in powers of (t − x0).
      const double h0 = x_[1] - x_[0], h1 = x_[2] - x_[1];
      const double d0 = (y[1] - y[0]) / h0, d1 = (y[2] - y[1]) / h1;
      const double c2 = (d1 - d0) / (h0 + h1);
      coef_.push_back({y[0], d0 - c2 * h0, c2, 0});
      x_ = {x_[0], x_[2]};
    } else {
      solve_not_a_knot(y);
    }
  }

  double operator()(double t) const {
    std::size_t i = 0;
    while (i + 2 < x_.size() && t >= x_[i + 1]) ++i;  // few pieces: a linear scan is enough
    const double d = t - x_[i];
    const auto& c = coef_[i];
    return c[0] + d * (c[1] + d * (c[2] + d * c[3]));
  }

 private:
  /// Pieces p_i(t) = a + b d + c d² + e d³ (d = t − x_i). Unknowns per piece: 4. Conditions:
  /// interpolation at both ends, C¹ and C² at interior knots, and C³ at the 2nd and next-to-last
  /// knots (not-a-knot). A dense solve is fine for the handful of points used here.
  void solve_not_a_knot(const std::vector<double>& y) {
    const int n = static_cast<int>(x_.size()), m = n - 1, N = 4 * m;
    std::vector<double> A(static_cast<std::size_t>(N * N), 0.0), b(static_cast<std::size_t>(N), 0.0);
    int row = 0;
    auto set = [&](int r, int col, double v) { A[static_cast<std::size_t>(r * N + col)] = v; };
    for (int i = 0; i < m; ++i) {
      const double h = x_[i + 1] - x_[i];
      set(row, 4 * i, 1);
      b[row++] = y[i];
      set(row, 4 * i, 1); set(row, 4 * i + 1, h); set(row, 4 * i + 2, h * h); set(row, 4 * i + 3, h * h * h);
      b[row++] = y[i + 1];
    }
    for (int i = 0; i + 1 < m; ++i) {
      const double h = x_[i + 1] - x_[i];
      set(row, 4 * i + 1, 1); set(row, 4 * i + 2, 2 * h); set(row, 4 * i + 3, 3 * h * h);
      set(row++, 4 * (i + 1) + 1, -1);
      set(row, 4 * i + 2, 2); set(row, 4 * i + 3, 6 * h);
      set(row++, 4 * (i + 1) + 2, -2);
    }
    set(row, 3, 1); set(row++, 7, -1);
    set(row, 4 * (m - 2) + 3, 1); set(row++, 4 * (m - 1) + 3, -1);
    // Gaussian elimination with partial pivoting.
    for (int c = 0; c < N; ++c) {
      int p = c;
      for (int r = c + 1; r < N; ++r)
        if (std::abs(A[static_cast<std::size_t>(r * N + c)]) > std::abs(A[static_cast<std::size_t>(p * N + c)])) p = r;
      for (int k = 0; k < N; ++k) std::swap(A[static_cast<std::size_t>(c * N + k)], A[static_cast<std::size_t>(p * N + k)]);
      std::swap(b[static_cast<std::size_t>(c)], b[static_cast<std::size_t>(p)]);
      const double piv = A[static_cast<std::size_t>(c * N + c)];
      for (int r = c + 1; r < N; ++r) {
        const double f = A[static_cast<std::size_t>(r * N + c)] / piv;
        if (f == 0) continue;
        for (int k = c; k < N; ++k) A[static_cast<std::size_t>(r * N + k)] -= f * A[static_cast<std::size_t>(c * N + k)];
        b[static_cast<std::size_t>(r)] -= f * b[static_cast<std::size_t>(c)];
      }
    }
    std::vector<double> s(static_cast<std::size_t>(N));
    for (int r = N - 1; r >= 0; --r) {
      double acc = b[static_cast<std::size_t>(r)];
      for (int k = r + 1; k < N; ++k) acc -= A[static_cast<std::size_t>(r * N + k)] * s[static_cast<std::size_t>(k)];
      s[static_cast<std::size_t>(r)] = acc / A[static_cast<std::size_t>(r * N + r)];
    }
    for (int i = 0; i < m; ++i) coef_.push_back({s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]});
  }

  std::vector<double> x_;
  std::vector<std::array<double, 4>> coef_;
};

/// The tone curve of MATLAB `curves(x, c)`: scalar c → points (0,0),(0.5,c),(1,1);
/// c = {c1, c2} → (0,0),(0.3,c1),(0.5,0.5),(0.7,c2),(1,1).
inline Spline tone_curve(double c) { return Spline({0.0, 0.5, 1.0}, {0.0, c, 1.0}); }
inline Spline tone_curve(double c1, double c2) {
  return Spline({0.0, 0.3, 0.5, 0.7, 1.0}, {0.0, c1, 0.5, c2, 1.0});
}

/// Applies a tone curve to every sample and clips the result to [0,1].
inline void apply_curve(Image& img, const Spline& s) {
  float* p = img.data();
  for (std::int64_t i = 0; i < img.numel(); ++i) p[i] = float(clamp01(s(double(p[i]))));
}

}  // namespace biqa::distortions

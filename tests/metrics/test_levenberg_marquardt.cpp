#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "biqa/metrics/levenberg_marquardt.hpp"

using namespace biqa;

namespace {

// Rosenbrock as least squares: r = (10 (b2 - b1^2), 1 - b1), minimum 0 at (1, 1).
struct Rosenbrock {
  std::size_t residual_count() const { return 2; }
  void residuals(std::span<const double> b, std::span<double> r) const {
    r[0] = 10 * (b[1] - b[0] * b[0]);
    r[1] = 1 - b[0];
  }
  void jacobian(std::span<const double> b, std::span<double> J) const {
    J[0] = -20 * b[0];  // column 0
    J[1] = -1;
    J[2] = 10;  // column 1
    J[3] = 0;
  }
};

// A straight line y = (b1 + b2) x + b3 with b1 and b2 indistinguishable: J has rank 2 of 3.
struct Redundant {
  std::vector<double> x, y;
  std::size_t residual_count() const { return x.size(); }
  void residuals(std::span<const double> b, std::span<double> r) const {
    for (std::size_t i = 0; i < x.size(); ++i) r[i] = (b[0] + b[1]) * x[i] + b[2] - y[i];
  }
  void jacobian(std::span<const double>, std::span<double> J) const {
    const std::size_t m = x.size();
    for (std::size_t i = 0; i < m; ++i) J[i] = J[m + i] = x[i], J[2 * m + i] = 1;
  }
};

}  // namespace

TEST_CASE("levenberg_marquardt: Rosenbrock from the classic start", "[metrics][lm]") {
  const auto r = metrics::levenberg_marquardt(Rosenbrock{}, {-1.2, 1.0});
  CHECK(r.converged());
  CHECK(r.params[0] == Approx(1.0).margin(1e-10));
  CHECK(r.params[1] == Approx(1.0).margin(1e-10));
  CHECK(r.sse <= 1e-20);
}

TEST_CASE("levenberg_marquardt: a rank-deficient Jacobian still reaches the least-squares line",
          "[metrics][lm]") {
  Redundant p{{0, 1, 2, 3, 4, 5}, {1.1, 2.9, 5.2, 7.1, 8.8, 11.2}};
  const auto r = metrics::levenberg_marquardt(p, {0.0, 0.0, 0.0});
  CHECK(r.converged());
  // Ordinary least squares for slope and intercept.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < p.x.size(); ++i) sx += p.x[i], sy += p.y[i], sxx += p.x[i] * p.x[i], sxy += p.x[i] * p.y[i];
  const double n = double(p.x.size()), slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n;
  CHECK(r.params[0] + r.params[1] == Approx(slope).epsilon(1e-10));
  CHECK(r.params[2] == Approx(icpt).epsilon(1e-10));
}

TEST_CASE("levenberg_marquardt: bad problems", "[metrics][lm][bad-input]") {
  Redundant two{{0, 1}, {1, 2}};
  CHECK_THROWS_WITH(metrics::levenberg_marquardt(two, {0.0, 0.0, 0.0}), Catch::Contains("at least as many residuals"));
  Redundant bad{{0, 1, 2, 3}, {1, 2, NAN, 4}};
  CHECK_THROWS_WITH(metrics::levenberg_marquardt(bad, {0.0, 0.0, 0.0}), Catch::Contains("not finite at the start"));
  metrics::LmOptions few;
  few.max_evaluations = 3;
  const auto r = metrics::levenberg_marquardt(Rosenbrock{}, {-1.2, 1.0}, few);
  CHECK_FALSE(r.converged());
  CHECK(r.status == metrics::LmStatus::max_evaluations);
}

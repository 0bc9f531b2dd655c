#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "biqa/metrics/correlation.hpp"
#include "metrics/fixtures.hpp"

using namespace biqa;

namespace {

// Kendall's tau-b by its definition, O(n^2): the independent check of Knight's algorithm.
double kendall_by_pairs(const std::vector<double>& x, const std::vector<double>& y) {
  double con = 0, dis = 0, tx = 0, ty = 0;
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double a = x[i] - x[j], b = y[i] - y[j];
      if (a == 0 && b == 0) continue;
      if (a == 0) ++tx;
      else if (b == 0) ++ty;
      else if ((a > 0) == (b > 0)) ++con;
      else ++dis;
    }
  return (con - dis) / std::sqrt((con + dis + tx) * (con + dis + ty));
}

}  // namespace

TEST_CASE("metrics: SRCC, PLCC, KRCC, RMSE equal scipy's to 1e-9", "[metrics]") {
  double worst = 0;
  for (const auto& name : test::metric_fixture_names()) {
    const auto f = test::load_metric_fixture(name);
    INFO(name << " (n = " << f.x.size() << ")");
    const double ds = std::abs(metrics::srcc(f.x, f.y) - f.ref["srcc"].as_number());
    const double dp = std::abs(metrics::plcc(f.x, f.y) - f.ref["plcc"].as_number());
    const double dk = std::abs(metrics::krcc(f.x, f.y) - f.ref["krcc"].as_number());
    const double rmse_ref = f.ref["rmse"].as_number();
    const double dr = std::abs(metrics::rmse(f.x, f.y) - rmse_ref) / rmse_ref;  // RMSE has units: relative
    CHECK(ds <= 1e-9);
    CHECK(dp <= 1e-9);
    CHECK(dk <= 1e-9);
    CHECK(dr <= 1e-9);
    worst = std::max({worst, ds, dp, dk, dr});
  }
  WARN("largest deviation from scipy over all fixtures: " << worst);
}

TEST_CASE("metrics: Knight's KRCC equals the pairwise definition with many ties", "[metrics]") {
  std::mt19937_64 gen(11);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<double> x(400), y(400);
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = double(gen() % (trial + 3));   // few distinct values: ties everywhere
      y[i] = double(gen() % 7) + (trial % 2 ? -x[i] : x[i]);
    }
    CHECK(std::abs(metrics::krcc(x, y) - kendall_by_pairs(x, y)) <= 1e-12);
  }
}

TEST_CASE("metrics: ranks average over ties, correlations are symmetric and rank-invariant", "[metrics]") {
  const std::vector<double> v = {3, 1, 3, 2, 3};
  CHECK(metrics::average_ranks(v) == std::vector<double>{4, 1, 4, 2, 4});
  const auto f = test::load_metric_fixture("heavy_tails");
  std::vector<double> cubed;
  for (double x : f.x) cubed.push_back(x * x * x + 5);  // strictly increasing map
  CHECK(metrics::srcc(cubed, f.y) == Approx(metrics::srcc(f.x, f.y)).margin(1e-15));
  CHECK(metrics::krcc(cubed, f.y) == Approx(metrics::krcc(f.x, f.y)).margin(1e-15));
  CHECK(metrics::srcc(f.y, f.x) == Approx(metrics::srcc(f.x, f.y)).margin(1e-15));
  CHECK(metrics::krcc(f.y, f.x) == Approx(metrics::krcc(f.x, f.y)).margin(1e-15));
  CHECK(metrics::plcc(f.y, f.x) == Approx(metrics::plcc(f.x, f.y)).margin(1e-15));
  const std::vector<double> up = {1, 2, 3, 4}, down = {8, 6, 4, 2};
  CHECK(metrics::srcc(up, down) == Approx(-1.0).margin(1e-15));
  CHECK(metrics::krcc(up, down) == -1.0);
  CHECK(metrics::plcc(up, down) == Approx(-1.0).margin(1e-15));
}

TEST_CASE("metrics: KRCC handles a large n in O(n log n)", "[metrics]") {
  // n = 200000 has 2e10 pairs: only an O(n log n) algorithm finishes in a test.
  std::mt19937_64 gen(5);
  std::vector<double> x(200000), y(200000);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = double(gen() % 1000);
    y[i] = x[i] + double(gen() % 500);
  }
  const double tau = metrics::krcc(x, y);
  CHECK(tau > 0.5);
  CHECK(tau < 1.0);
}

TEST_CASE("metrics: bad input gives a readable biqa::Error", "[metrics][bad-input]") {
  const std::vector<double> a = {1, 2, 3, 4}, b = {1, 2, 3};
  CHECK_THROWS_WITH(metrics::srcc(a, b), Catch::Contains("pred has 4 values but target has 3"));
  CHECK_THROWS_WITH(metrics::rmse(b, a), Catch::Contains("pred has 3 values but target has 4"));
  const std::vector<double> two = {1, 2};
  CHECK_THROWS_WITH(metrics::plcc(two, two), Catch::Contains("at least 3 pairs, got 2"));
  CHECK_THROWS_WITH(metrics::rmse(two, two), Catch::Contains("at least 3 pairs"));
  const std::vector<double> with_nan = {1, NAN, 3, 4}, with_inf = {1, 2, INFINITY, 4};
  CHECK_THROWS_WITH(metrics::krcc(with_nan, a), Catch::Contains("pred[1] is NaN"));
  CHECK_THROWS_WITH(metrics::plcc(a, with_inf), Catch::Contains("target[2] is infinite"));
  CHECK_THROWS_WITH(metrics::rmse(a, with_nan), Catch::Contains("target[1] is NaN"));
  const std::vector<double> flat = {2, 2, 2, 2};
  for (auto fn : {metrics::srcc, metrics::plcc, metrics::krcc}) {
    CHECK_THROWS_WITH(fn(flat, a), Catch::Contains("pred is constant"));
    CHECK_THROWS_WITH(fn(a, flat), Catch::Contains("target is constant"));
    try {
      fn(flat, a);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_argument);
    }
  }
  // A constant prediction has a well-defined RMSE (the "predict the mean" baseline).
  CHECK(metrics::rmse(flat, a) == Approx(std::sqrt((1 + 0 + 1 + 4) / 4.0)));
}

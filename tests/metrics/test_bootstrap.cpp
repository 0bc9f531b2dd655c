#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <random>

#include "biqa/metrics/bootstrap.hpp"
#include "metrics/fixtures.hpp"

using namespace biqa;

namespace {

// Standard normal pairs with correlation rho, from our own Box-Muller on mt19937_64 (the
// standard library's normal_distribution differs between implementations).
void bivariate_normal(std::mt19937_64& gen, double rho, std::vector<double>& x, std::vector<double>& y) {
  auto uniform = [&] { return (double(gen() >> 11) + 0.5) * 0x1.0p-53; };  // in (0, 1)
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = std::sqrt(-2 * std::log(uniform())), a = 2 * std::numbers::pi * uniform();
    const double z1 = r * std::cos(a), z2 = r * std::sin(a);
    x[i] = z1;
    y[i] = rho * z1 + std::sqrt(1 - rho * rho) * z2;
  }
}

}  // namespace

TEST_CASE("bootstrap: the same seed gives the same interval, another seed another", "[metrics][bootstrap]") {
  const auto f = test::load_metric_fixture("negative");
  metrics::BootstrapOptions o;
  o.resamples = 300;
  o.seed = 42;
  const auto a = metrics::bootstrap(f.x, f.y, metrics::all_metrics, o);
  const auto b = metrics::bootstrap(f.x, f.y, metrics::all_metrics, o);
  REQUIRE(a.size() == 6);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].lower == b[i].lower);  // bit-identical
    CHECK(a[i].upper == b[i].upper);
  }
  // One metric alone uses the same resamples as in the batch.
  const auto srcc_alone = metrics::bootstrap(f.x, f.y, metrics::Metric::srcc, o);
  CHECK(srcc_alone.lower == a[0].lower);
  CHECK(srcc_alone.upper == a[0].upper);
  o.seed = 43;
  const auto c = metrics::bootstrap(f.x, f.y, metrics::Metric::srcc, o);
  CHECK((c.lower != a[0].lower || c.upper != a[0].upper));
}

TEST_CASE("bootstrap: intervals contain the point estimate and narrow with n", "[metrics][bootstrap]") {
  const auto f = test::load_metric_fixture("n1000");
  metrics::BootstrapOptions o;
  o.resamples = 200;
  const auto all = metrics::bootstrap(f.x, f.y, metrics::all_metrics, o);
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(metrics::to_string(metrics::all_metrics[i]));
    CHECK(all[i].lower < all[i].estimate);
    CHECK(all[i].estimate < all[i].upper);
    CHECK(all[i].confidence == 0.95);
    CHECK(all[i].resamples == 200);
  }
  CHECK(all[0].estimate == Approx(f.ref["srcc"].as_number()).margin(1e-12));
  CHECK(all[4].estimate == Approx(metrics::fit_logistic(f.x, f.y).plcc).margin(1e-12));
  // A quarter of the data: a wider interval.
  const std::size_t m = 250;
  const std::vector<double> x(f.x.begin(), f.x.begin() + m), y(f.y.begin(), f.y.begin() + m);
  const auto small = metrics::bootstrap(x, y, metrics::Metric::plcc, o);
  CHECK(small.upper - small.lower > all[1].upper - all[1].lower);
}

TEST_CASE("bootstrap: 95% intervals cover the population correlation about 95% of the time",
          "[metrics][bootstrap]") {
  // Bivariate normal with rho = 0.6; the population values of Spearman's and Kendall's
  // coefficients are (6/pi) asin(rho/2) and (2/pi) asin(rho). 200 data sets of n = 100.
  const double rho = 0.6;
  const double truth[3] = {6 / std::numbers::pi * std::asin(rho / 2), rho, 2 / std::numbers::pi * std::asin(rho)};
  const metrics::Metric which[3] = {metrics::Metric::srcc, metrics::Metric::plcc, metrics::Metric::krcc};
  std::mt19937_64 gen(2024);
  std::vector<double> x(100), y(100);
  int covered[3] = {0, 0, 0};
  const int datasets = 200;
  metrics::BootstrapOptions o;
  o.resamples = 200;
  for (int d = 0; d < datasets; ++d) {
    bivariate_normal(gen, rho, x, y);
    o.seed = std::uint64_t(d);
    const auto ci = metrics::bootstrap(x, y, which, o);
    for (int k = 0; k < 3; ++k) covered[k] += ci[k].lower <= truth[k] && truth[k] <= ci[k].upper;
  }
  for (int k = 0; k < 3; ++k) {
    INFO(metrics::to_string(which[k]) << " covered " << covered[k] << " of " << datasets);
    // Binomial sd at 95% over 200 sets is 1.5%; percentile intervals run slightly narrow at n = 100.
    CHECK(covered[k] >= int(0.88 * datasets));
    CHECK(covered[k] <= int(0.99 * datasets));
  }
  WARN("coverage of nominal 95% intervals (srcc, plcc, krcc): " << covered[0] << ", " << covered[1] << ", "
       << covered[2] << " of " << datasets);
}

TEST_CASE("bootstrap: reproducible building blocks", "[metrics][bootstrap]") {
  // The engine is the standard's: its 10000th output is fixed by [rand.predef].
  std::mt19937_64 gen;
  gen.discard(9999);
  CHECK(gen() == 9981545732273789042ull);
  // Our bounded draw is uniform (each of 7 values within 3% of 1/7 over 70000 draws).
  std::mt19937_64 g(1);
  int count[7] = {};
  for (int i = 0; i < 70000; ++i) ++count[metrics::detail::uniform_index(g, 7)];
  for (int c : count) CHECK(std::abs(c - 10000) < 300);
  // Quantiles interpolate linearly between order statistics (numpy.quantile's default).
  const std::vector<double> v = {1, 2, 3, 4};
  CHECK(metrics::detail::quantile_sorted(v, 0.25) == 1.75);
  CHECK(metrics::detail::quantile_sorted(v, 0.0) == 1.0);
  CHECK(metrics::detail::quantile_sorted(v, 1.0) == 4.0);
}

TEST_CASE("bootstrap: any statistic, degenerate resamples and bad options", "[metrics][bootstrap][bad-input]") {
  const auto f = test::load_metric_fixture("n3");
  metrics::BootstrapOptions o;
  o.resamples = 100;
  // n = 3: resamples that repeat one pair are constant and are drawn again.
  const auto ci = metrics::bootstrap(f.x, f.y, metrics::Metric::srcc, o);
  CHECK(ci.redrawn > 0);
  CHECK(ci.lower <= ci.upper);
  // A user statistic: mean absolute error.
  const metrics::Statistic mae = [](std::span<const double> p, std::span<const double> t) {
    double s = 0;
    for (std::size_t i = 0; i < p.size(); ++i) s += std::abs(p[i] - t[i]);
    return s / double(p.size());
  };
  const auto g = test::load_metric_fixture("negative");
  const auto m = metrics::bootstrap(g.x, g.y, mae, o);
  CHECK(m.lower <= m.estimate);
  CHECK(m.estimate <= m.upper);
  CHECK(m.redrawn == 0);
  // A statistic defined only on the original sample: every resample is degenerate.
  const metrics::Statistic picky = [&](std::span<const double> p, std::span<const double>) {
    if (!std::equal(p.begin(), p.end(), g.x.begin())) fail(ErrorCode::invalid_argument, "not the original");
    return 0.0;
  };
  CHECK_THROWS_WITH(metrics::bootstrap(g.x, g.y, picky, o), Catch::Contains("resamples were degenerate"));
  o.confidence = 1.0;
  CHECK_THROWS_WITH(metrics::bootstrap(g.x, g.y, metrics::Metric::plcc, o), Catch::Contains("confidence must lie in (0, 1)"));
  o.confidence = 0.9;
  o.resamples = 1;
  CHECK_THROWS_WITH(metrics::bootstrap(g.x, g.y, metrics::Metric::plcc, o), Catch::Contains("at least 2 resamples"));
  o.resamples = 10;
  CHECK_THROWS_WITH(metrics::bootstrap(f.x, f.y, metrics::Metric::plcc_logistic, o), Catch::Contains("needs at least 5 pairs"));
  const std::vector<double> shorter(g.y.begin(), g.y.end() - 1);
  CHECK_THROWS_WITH(metrics::bootstrap(g.x, shorter, metrics::Metric::srcc, o), Catch::Contains("values but target has"));
}

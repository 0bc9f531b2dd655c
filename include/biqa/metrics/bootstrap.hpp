#pragma once
/// @file
/// Percentile bootstrap confidence intervals for any metric (Efron & Tibshirani, "An Introduction
/// to the Bootstrap", 1993, ch. 13): resample the (pred, target) pairs with replacement, recompute
/// the metric, and take the (1-c)/2 and (1+c)/2 quantiles of the resampled values (linear
/// interpolation between order statistics, numpy.quantile's default).
///
/// Reproducible: resample i draws its indices from std::mt19937_64 seeded with splitmix64(seed, i)
/// (the engine's output is fixed by the C++ standard) through our own unbiased bounded draw, not
/// std::uniform_int_distribution, whose algorithm differs between standard libraries. The same
/// seed gives the same interval on every platform, and resamples are independent of one another,
/// so they could be computed in parallel without changing the answer.
///
/// A resample on which the metric is undefined (e.g. all drawn predictions equal) is redrawn from
/// the same generator; the count is reported. Logistic metrics refit each resample starting from
/// the full-sample parameters (no restarts, BootstrapOptions::resample_solver), which keeps the fit
/// in the same basin and is fast.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "biqa/metrics/input.hpp"
#include "biqa/metrics/logistic.hpp"

namespace biqa::metrics {

struct BootstrapOptions {
  std::size_t resamples = 1000;
  double confidence = 0.95;  ///< in (0, 1)
  std::uint64_t seed = 0;
  LogisticOptions fit;  // for the logistic metrics' full-sample fit
  /// For the refits on resamples: looser than a single fit's defaults (PLCC to ~1e-10, far below
  /// the sampling spread) and capped, because small resamples of 5-parameter fits can slide down
  /// valleys without a finite minimum, where more evaluations buy nothing.
  LmOptions resample_solver{.ftol = 1e-10, .xtol = 1e-9, .gtol = 0.0, .max_evaluations = 300};
};

struct ConfidenceInterval {
  double estimate = 0;  ///< the metric on the full sample
  double lower = 0, upper = 0;
  double confidence = 0;
  std::size_t resamples = 0;
  std::size_t redrawn = 0;  ///< degenerate resamples that were drawn again
};

/// A statistic of paired samples; throwing biqa::Error marks a resample as degenerate.
using Statistic = std::function<double(std::span<const double>, std::span<const double>)>;

namespace detail {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Uniform in [0, n) without modulo bias: reject the top 2^64 mod n values.
inline std::uint64_t uniform_index(std::mt19937_64& gen, std::uint64_t n) {
  const std::uint64_t reject_from = std::numeric_limits<std::uint64_t>::max() - (std::numeric_limits<std::uint64_t>::max() % n + 1) % n;
  for (;;) {
    const std::uint64_t r = gen();
    if (r <= reject_from) return r % n;
  }
}

/// Quantile q of sorted values, linear interpolation between order statistics (numpy 'linear').
inline double quantile_sorted(const std::vector<double>& v, double q) {
  const double h = (double(v.size()) - 1) * q;
  const auto lo = std::size_t(std::floor(h));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - double(lo)) * (v[hi] - v[lo]);
}

/// Runs `k` statistics on every resample (computed together by `eval`, which writes k values or
/// throws biqa::Error) and returns the k sorted bootstrap distributions.
template <typename Eval>
std::vector<std::vector<double>> resample(std::span<const double> pred, std::span<const double> target,
                                          std::size_t k, const Eval& eval, const BootstrapOptions& o,
                                          std::size_t& redrawn) {
  BIQA_CHECK(o.resamples >= 2, ErrorCode::invalid_argument, "bootstrap: need at least 2 resamples, got ",
             o.resamples);
  BIQA_CHECK(o.confidence > 0 && o.confidence < 1, ErrorCode::invalid_argument,
             "bootstrap: confidence must lie in (0, 1), got ", o.confidence);
  const std::size_t n = pred.size();
  const std::size_t max_redraws = 10 * o.resamples + 100;
  std::vector<std::vector<double>> dist(k, std::vector<double>(o.resamples));
  std::vector<double> p(n), t(n), values(k);
  redrawn = 0;
  for (std::size_t b = 0; b < o.resamples; ++b) {
    std::mt19937_64 gen(splitmix64(o.seed ^ splitmix64(b)));
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) {
        const auto j = std::size_t(uniform_index(gen, n));
        p[i] = pred[j];
        t[i] = target[j];
      }
      try {
        eval(std::span<const double>(p), std::span<const double>(t), values.data());
        break;
      } catch (const Error&) {  // undefined on this resample (e.g. constant): draw it again
      }
      if (++redrawn > max_redraws)
        fail(ErrorCode::invalid_argument, "bootstrap: more than ", max_redraws,
             " resamples were degenerate (too few distinct pairs to resample)");
    }
    for (std::size_t s = 0; s < k; ++s) dist[s][b] = values[s];
  }
  for (auto& d : dist) std::sort(d.begin(), d.end());
  return dist;
}

inline ConfidenceInterval interval(double estimate, const std::vector<double>& sorted, const BootstrapOptions& o,
                                   std::size_t redrawn) {
  ConfidenceInterval ci;
  ci.estimate = estimate;
  ci.lower = quantile_sorted(sorted, 0.5 * (1 - o.confidence));
  ci.upper = quantile_sorted(sorted, 0.5 * (1 + o.confidence));
  ci.confidence = o.confidence;
  ci.resamples = o.resamples;
  ci.redrawn = redrawn;
  return ci;
}

}  // namespace detail

/// Interval for an arbitrary statistic.
inline ConfidenceInterval bootstrap(std::span<const double> pred, std::span<const double> target,
                                    const Statistic& statistic, const BootstrapOptions& options = {}) {
  check_pairs(pred, target);
  const double estimate = statistic(pred, target);
  std::size_t redrawn = 0;
  const auto dist = detail::resample(
      pred, target, 1, [&](std::span<const double> p, std::span<const double> t, double* out) { out[0] = statistic(p, t); },
      options, redrawn);
  return detail::interval(estimate, dist[0], options, redrawn);
}

/// Intervals for several metrics from the same resamples (one logistic fit per resample serves
/// both logistic metrics).
inline std::vector<ConfidenceInterval> bootstrap(std::span<const double> pred, std::span<const double> target,
                                                 std::span<const Metric> which, const BootstrapOptions& options = {}) {
  check_pairs(pred, target);
  const bool need_fit = std::any_of(which.begin(), which.end(), uses_logistic);
  EvaluationOptions full;
  full.logistic = need_fit;
  full.fit = options.fit;
  const Evaluation e = evaluate(pred, target, full);
  LogisticOptions warm = options.fit;
  if (need_fit) {
    (void)e.value(Metric::plcc_logistic);  // throws with the reason when the fit was impossible
    warm.start = e.logistic->params;
    warm.restarts = false;
    warm.solver = options.resample_solver;
  }
  std::size_t redrawn = 0;
  const auto dist = detail::resample(
      pred, target, which.size(),
      [&](std::span<const double> p, std::span<const double> t, double* out) {
        std::optional<LogisticFit> fit;
        for (std::size_t s = 0; s < which.size(); ++s) {
          if (uses_logistic(which[s])) {
            if (!fit) fit = fit_logistic(p, t, warm);
            out[s] = which[s] == Metric::plcc_logistic ? fit->plcc : fit->rmse;
          } else {
            out[s] = compute(which[s], p, t);
          }
        }
      },
      options, redrawn);
  std::vector<ConfidenceInterval> out;
  for (std::size_t s = 0; s < which.size(); ++s)
    out.push_back(detail::interval(e.value(which[s]), dist[s], options, redrawn));
  return out;
}

inline ConfidenceInterval bootstrap(std::span<const double> pred, std::span<const double> target, Metric which,
                                    const BootstrapOptions& options = {}) {
  return bootstrap(pred, target, std::span<const Metric>(&which, 1), options)[0];
}

}  // namespace biqa::metrics

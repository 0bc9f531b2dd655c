#pragma once
/// @file
/// The non-linear mapping of predictions onto the MOS scale that precedes PLCC and RMSE in the
/// VQEG / LIVE evaluation protocol, fitted by least squares (Levenberg-Marquardt).
///
///   five_parameter (VQEG FR-TV Phase I final report, 2000; Sheikh, Sabir & Bovik, IEEE TIP 2006):
///     f(x) = b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5
///   four_parameter (monotonic, asymptotes b1 and b2; with |b4| as in SimpleVQA's utils.py and
///   the VQA/IQA code built on it):
///     f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2
///
/// Customary start values (docs/metrics.md says where they come from):
///   five_parameter: b1 = max(y), b2 = min(y), b3 = mean(x), b4 = 0.1, b5 = 0.1
///   four_parameter: b1 = max(y), b2 = min(y), b3 = mean(x), b4 = std(x) / 4   (population std)
/// With these, fit_logistic(..., {.restarts = false}) reproduces scipy.optimize.curve_fit(f, x, y,
/// p0=start). The five-parameter start is not scale-free (b2 = min(y) is a slope in 1/x units) and
/// gets stuck in poor local minima on some data, so by default the fit also starts from other
/// points (see LogisticOptions::restarts) and keeps the lowest sum of squares.

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/metrics/input.hpp"
#include "biqa/metrics/levenberg_marquardt.hpp"

namespace biqa::metrics {

enum class LogisticForm { five_parameter, four_parameter };

inline int parameter_count(LogisticForm form) { return form == LogisticForm::five_parameter ? 5 : 4; }

inline const char* to_string(LogisticForm form) {
  return form == LogisticForm::five_parameter ? "5-parameter logistic" : "4-parameter logistic";
}

/// f(x) for the given parameters (b1..b5 or b1..b4).
inline double logistic(LogisticForm form, std::span<const double> b, double x) {
  BIQA_CHECK(b.size() == std::size_t(parameter_count(form)), ErrorCode::invalid_argument, "logistic: the ",
             to_string(form), " takes ", parameter_count(form), " parameters, got ", b.size());
  if (form == LogisticForm::five_parameter) {
    // 0.5 - 1/(1 + e^u) == tanh(u/2) / 2, which cannot overflow.
    return 0.5 * b[0] * std::tanh(0.5 * b[1] * (x - b[2])) + b[3] * x + b[4];
  }
  const double t = (x - b[2]) / std::abs(b[3]);
  const double s = t >= 0 ? 1.0 / (1.0 + std::exp(-t)) : std::exp(t) / (1.0 + std::exp(t));
  return (b[0] - b[1]) * s + b[1];
}

/// The customary start values listed above.
inline std::vector<double> customary_start(LogisticForm form, std::span<const double> x,
                                           std::span<const double> y) {
  BIQA_CHECK(!x.empty() && !y.empty(), ErrorCode::invalid_argument, "logistic: empty input");
  const double ymax = *std::max_element(y.begin(), y.end()), ymin = *std::min_element(y.begin(), y.end());
  double mean = 0;
  for (double v : x) mean += v;
  mean /= double(x.size());
  if (form == LogisticForm::five_parameter) return {ymax, ymin, mean, 0.1, 0.1};
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  return {ymax, ymin, mean, std::sqrt(var / double(x.size())) / 4.0};
}

struct LogisticOptions {
  LogisticForm form = LogisticForm::five_parameter;
  /// Start values; empty means customary_start(). A wrong count is an error.
  std::vector<double> start;
  /// Also fit from other starts and keep the lowest sum of squares (the first start wins ties):
  ///   five_parameter: from the fitted four-parameter curve, rewritten in five-parameter terms
  ///     (b1 - b2, 1/|b4|, b3, 0, (b1 + b2)/2), so the result is never worse than the 4-parameter
  ///     fit; and from a scale-free start (range(y) * sign(r), 4 / range(x), median(x), 0, mean(y)).
  ///   four_parameter: from the mirrored start (b1 and b2 swapped), for decreasing relations.
  /// Off, the fit is exactly curve_fit's from `start`.
  bool restarts = true;
  LmOptions solver;
};

struct LogisticFit {
  LogisticForm form = LogisticForm::five_parameter;
  std::vector<double> params;  ///< b1..b5 or b1..b4
  std::size_t n = 0;
  double sse = 0;   ///< sum of squared residuals f(x_i) - y_i
  double rmse = 0;  ///< sqrt(sse / n)
  double plcc = 0;  // Pearson's r between f(x) and y
  bool converged = false;
  int evaluations = 0;  ///< residual evaluations over all starts
  int start_index = 0;  ///< which start gave the kept fit: 0 = `start`, 1.. = restarts in the order above

  double operator()(double x) const { return logistic(form, params, x); }
  std::vector<double> map(std::span<const double> x) const {
    std::vector<double> out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = (*this)(x[i]);
    return out;
  }
};

namespace detail {

class LogisticProblem {
 public:
  LogisticProblem(LogisticForm form, std::span<const double> x, std::span<const double> y)
      : form_(form), x_(x), y_(y) {}
  std::size_t residual_count() const { return x_.size(); }

  void residuals(std::span<const double> b, std::span<double> r) const {
    if (form_ == LogisticForm::four_parameter && b[3] == 0) {  // a step function: no derivative
      std::fill(r.begin(), r.end(), std::numeric_limits<double>::quiet_NaN());
      return;
    }
    for (std::size_t i = 0; i < x_.size(); ++i) r[i] = logistic(form_, b, x_[i]) - y_[i];
  }

  /// Column-major: J[j * m + i] = d r_i / d b_j.
  void jacobian(std::span<const double> b, std::span<double> J) const {
    const std::size_t m = x_.size();
    for (std::size_t i = 0; i < m; ++i) {
      const double x = x_[i];
      if (form_ == LogisticForm::five_parameter) {
        const double t = std::tanh(0.5 * b[1] * (x - b[2]));
        const double sech2 = 1.0 - t * t;
        J[i] = 0.5 * t;
        J[m + i] = 0.25 * b[0] * sech2 * (x - b[2]);
        J[2 * m + i] = -0.25 * b[0] * sech2 * b[1];
        J[3 * m + i] = x;
        J[4 * m + i] = 1.0;
      } else {
        const double a = std::abs(b[3]);
        const double z = (x - b[2]) / a;
        const double s = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
        const double d = (b[0] - b[1]) * s * (1.0 - s);
        J[i] = s;
        J[m + i] = 1.0 - s;
        J[2 * m + i] = -d / a;
        J[3 * m + i] = -d * z / a * (b[3] > 0 ? 1.0 : -1.0);
      }
    }
  }

 private:
  LogisticForm form_;
  std::span<const double> x_, y_;
};

inline LmResult fit_from(LogisticForm form, std::span<const double> x, std::span<const double> y,
                         const std::vector<double>& start, const LmOptions& solver) {
  return levenberg_marquardt(LogisticProblem(form, x, y), start, solver);
}

}  // namespace detail

/// Fits f (options.form) so that f(pred) approximates target in the least-squares sense.
/// Needs at least as many pairs as parameters (as curve_fit does) and non-constant input.
inline LogisticFit fit_logistic(std::span<const double> pred, std::span<const double> target,
                                const LogisticOptions& options = {}) {
  check_pairs(pred, target);
  const LogisticForm form = options.form;
  const auto np = std::size_t(parameter_count(form));
  if (pred.size() < np)
    fail(ErrorCode::invalid_argument, "metrics: the ", to_string(form), " needs at least ", np,
         " pairs to fit, got ", pred.size());
  std::vector<std::vector<double>> starts;
  starts.push_back(options.start.empty() ? customary_start(form, pred, target) : options.start);
  if (starts[0].size() != np)
    fail(ErrorCode::invalid_argument, "metrics: the ", to_string(form), " takes ", np,
         " start values, got ", starts[0].size());
  for (std::size_t j = 0; j < np; ++j)
    BIQA_CHECK(std::isfinite(starts[0][j]), ErrorCode::invalid_argument, "metrics: start value b", j + 1,
               " is not finite");

  LogisticFit best;
  best.form = form;
  best.n = pred.size();
  int evaluations = 0;
  bool have = false;
  auto consider = [&](const std::vector<double>& start, int index) {
    LmResult last;
    try {
      last = detail::fit_from(form, pred, target, start, options.solver);
    } catch (const Error&) {  // the model is not finite at this start: skip it
      return;
    }
    evaluations += last.evaluations;
    // A later start must beat the kept one by more than rounding to replace it.
    if (std::isfinite(last.sse) && (!have || last.sse < best.sse * (1 - 1e-12))) {
      have = true;
      best.params = last.params;
      best.sse = last.sse;
      best.converged = last.converged();
      best.start_index = index;
    }
  };

  consider(starts[0], 0);
  if (options.restarts) {
    const double ymax = *std::max_element(target.begin(), target.end());
    const double ymin = *std::min_element(target.begin(), target.end());
    if (form == LogisticForm::five_parameter) {
      LogisticOptions four;
      four.form = LogisticForm::four_parameter;
      four.solver = options.solver;
      try {
        const LogisticFit f4 = fit_logistic(pred, target, four);
        const auto& b = f4.params;
        evaluations += f4.evaluations;
        consider({b[0] - b[1], 1.0 / std::abs(b[3]), b[2], 0.0, 0.5 * (b[0] + b[1])}, 1);
      } catch (const Error&) {
      }
      std::vector<double> sorted(pred.begin(), pred.end());
      std::sort(sorted.begin(), sorted.end());
      const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                              : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
      double ymean = 0;
      for (double v : target) ymean += v;
      ymean /= double(target.size());
      const double sign = detail::pearson_unchecked(pred, target) < 0 ? -1.0 : 1.0;
      consider({(ymax - ymin) * sign, 4.0 / (sorted.back() - sorted.front()), median, 0.0, ymean}, 2);
    } else {
      std::vector<double> mirrored = customary_start(form, pred, target);
      std::swap(mirrored[0], mirrored[1]);
      consider(mirrored, 1);
    }
  }
  BIQA_CHECK(have, ErrorCode::numeric, "metrics: the ", to_string(form),
             " could not be evaluated at any start value");
  best.evaluations = evaluations;
  const auto mapped = best.map(pred);
  best.sse = 0;
  for (std::size_t i = 0; i < best.n; ++i) best.sse += (mapped[i] - target[i]) * (mapped[i] - target[i]);
  best.rmse = std::sqrt(best.sse / double(best.n));
  best.plcc = detail::pearson_unchecked(mapped, target);
  return best;
}

}  // namespace biqa::metrics

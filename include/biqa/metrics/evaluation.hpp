#pragma once
/// @file
/// All metrics at once, as `biqa metrics` and `biqa eval` report them, and a Metric enum so that
/// callers (bootstrap, eval) can name any of them.

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "biqa/core/error.hpp"
#include "biqa/io/json.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/metrics/input.hpp"
#include "biqa/metrics/logistic.hpp"

namespace biqa::metrics {

enum class Metric { srcc, plcc, krcc, rmse, plcc_logistic, rmse_logistic };

inline constexpr std::array<Metric, 6> all_metrics = {Metric::srcc, Metric::plcc, Metric::krcc, Metric::rmse,
                                                      Metric::plcc_logistic, Metric::rmse_logistic};

/// The metric's key in JSON output and on command lines.
inline const char* to_string(Metric m) {
  switch (m) {
    case Metric::srcc: return "srcc";
    case Metric::plcc: return "plcc";
    case Metric::krcc: return "krcc";
    case Metric::rmse: return "rmse";
    case Metric::plcc_logistic: return "plcc_logistic";
    case Metric::rmse_logistic: return "rmse_logistic";
  }
  return "?";
}

inline Metric parse_metric(std::string_view name) {
  for (Metric m : all_metrics)
    if (name == to_string(m)) return m;
  fail(ErrorCode::invalid_argument, "metrics: unknown metric '", name,
       "' (expected srcc, plcc, krcc, rmse, plcc_logistic or rmse_logistic)");
}

inline bool uses_logistic(Metric m) { return m == Metric::plcc_logistic || m == Metric::rmse_logistic; }

/// One metric. The logistic ones fit `fit` (default: 5-parameter, customary start, restarts).
inline double compute(Metric m, std::span<const double> pred, std::span<const double> target,
                      const LogisticOptions& fit = {}) {
  switch (m) {
    case Metric::srcc: return srcc(pred, target);
    case Metric::plcc: return plcc(pred, target);
    case Metric::krcc: return krcc(pred, target);
    case Metric::rmse: return rmse(pred, target);
    case Metric::plcc_logistic: return fit_logistic(pred, target, fit).plcc;
    case Metric::rmse_logistic: return fit_logistic(pred, target, fit).rmse;
  }
  fail(ErrorCode::internal, "metrics: unhandled metric");
}

struct EvaluationOptions {
  bool logistic = true;  ///< also fit the logistic and report PLCC/RMSE after mapping
  LogisticOptions fit;
};

struct Evaluation {
  std::size_t n = 0;
  double srcc = 0, plcc = 0, krcc = 0, rmse = 0;
  /// Absent when not requested or when there are fewer pairs than parameters (then
  /// `logistic_note` says why).
  std::optional<LogisticFit> logistic;
  std::string logistic_note;

  /// The value of one metric; throws for a logistic metric that was not computed.
  double value(Metric m) const {
    switch (m) {
      case Metric::srcc: return srcc;
      case Metric::plcc: return plcc;
      case Metric::krcc: return krcc;
      case Metric::rmse: return rmse;
      case Metric::plcc_logistic:
      case Metric::rmse_logistic:
        if (!logistic) fail(ErrorCode::invalid_argument, "metrics: no logistic fit: ", logistic_note);
        return m == Metric::plcc_logistic ? logistic->plcc : logistic->rmse;
    }
    fail(ErrorCode::internal, "metrics: unhandled metric");
  }
};

inline Evaluation evaluate(std::span<const double> pred, std::span<const double> target,
                           const EvaluationOptions& options = {}) {
  check_pairs(pred, target);
  Evaluation e;
  e.n = pred.size();
  e.srcc = srcc(pred, target);
  e.plcc = plcc(pred, target);
  e.krcc = krcc(pred, target);
  e.rmse = rmse(pred, target);
  const auto np = std::size_t(parameter_count(options.fit.form));
  if (!options.logistic) {
    e.logistic_note = "not requested";
  } else if (e.n < np) {
    e.logistic_note = cat("the ", to_string(options.fit.form), " needs at least ", np, " pairs, got ", e.n);
  } else {
    e.logistic = fit_logistic(pred, target, options.fit);
  }
  return e;
}

/// {"srcc", "plcc", "krcc", "rmse", "plcc_logistic", "rmse_logistic", "n"}; the logistic values are
/// null when there is no fit.
inline json::Value to_json(const Evaluation& e) {
  json::Value out = json::Object{};
  out.set("srcc", e.srcc);
  out.set("plcc", e.plcc);
  out.set("krcc", e.krcc);
  out.set("rmse", e.rmse);
  out.set("plcc_logistic", e.logistic ? json::Value(e.logistic->plcc) : json::Value(nullptr));
  out.set("rmse_logistic", e.logistic ? json::Value(e.logistic->rmse) : json::Value(nullptr));
  out.set("n", e.n);
  return out;
}

}  // namespace biqa::metrics

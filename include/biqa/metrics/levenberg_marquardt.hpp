#pragma once
// A small dense Levenberg-Marquardt least-squares solver for the logistic fits.
//
// It follows the trust-region formulation of J. J. Moré, "The Levenberg-Marquardt algorithm:
// implementation and theory" (Numerical Analysis, LNM 630, 1978), which is also what MINPACK's
// lmder/lmdif (and so scipy.optimize.curve_fit's default method 'lm') implement: the step solves
// min ||J p + r|| subject to ||D p|| <= delta, D the running maximum of the Jacobian's column
// norms, the radius delta adapted from the ratio of actual to predicted reduction. Following the
// same algorithm from the same start makes it land in the same local minimum as curve_fit, which
// matters because logistic fits have several.
//
// Problem concept (residuals r = model - data, minimising sum r^2):
//   Eigen::Index residual_count() const;
//   void residuals(const Eigen::VectorXd& params, Eigen::VectorXd& r) const;
//   void jacobian(const Eigen::VectorXd& params, Eigen::MatrixXd& J) const;  // dr_i / dparams_j

#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>

#include "biqa/core/error.hpp"

namespace biqa::metrics {

struct LmOptions {
  // Stop when the actual and predicted relative reductions of the sum of squares are both below
  // ftol, or when the trust region shrinks below xtol * ||D params||. Tighter than curve_fit's
  // 1.49e-8 defaults so that the parameters, not only the fitted values, are pinned down.
  double ftol = 1e-15;
  double xtol = 1e-12;
  double gtol = 0.0;  // stop when the scaled gradient's largest entry falls to this
  int max_evaluations = 0;  // residual evaluations; 0 = 400 * (parameters + 1)
  double step_bound = 100.0;  // initial trust radius, times ||D params|| (MINPACK's `factor`)
};

enum class LmStatus {
  small_reduction,  // converged: the sum of squares stopped decreasing (ftol)
  small_step,       // converged: the steps became negligible (xtol)
  small_gradient,   // converged: the gradient vanished (gtol, or an exact fit)
  at_precision,     // converged: no further progress is possible in double precision
  max_evaluations,  // not converged: gave up
};

inline const char* to_string(LmStatus s) {
  switch (s) {
    case LmStatus::small_reduction: return "relative reduction below ftol";
    case LmStatus::small_step: return "step below xtol";
    case LmStatus::small_gradient: return "gradient below gtol";
    case LmStatus::at_precision: return "no further progress possible in double precision";
    case LmStatus::max_evaluations: return "evaluation limit reached";
  }
  return "?";
}

struct LmResult {
  Eigen::VectorXd params;
  double sse = 0;  // sum of squared residuals at params
  int evaluations = 0;
  int iterations = 0;  // Jacobian evaluations
  LmStatus status = LmStatus::max_evaluations;
  bool converged() const { return status != LmStatus::max_evaluations; }
};

namespace detail {

// Solves the trust-region subproblem for the current linearisation (Moré's "lmpar"): finds
// par >= 0 and the step x with (J^T J + par D^2) x = J^T r and ||D x|| within 10% of delta, or
// par = 0 when the Gauss-Newton step already fits. J P = Q R (R n x n upper, P pivoting), qtr =
// (Q^T r).head(n). Returns x in the original parameter order; the step to take is -x.
inline Eigen::VectorXd lm_parameter(const Eigen::MatrixXd& R, const Eigen::VectorXi& perm,
                                    const Eigen::VectorXd& diag, const Eigen::VectorXd& qtr,
                                    double delta, double& par) {
  const Eigen::Index n = R.cols();
  constexpr double dwarf = std::numeric_limits<double>::min();
  Eigen::VectorXd dp(n);  // diag in pivoted order
  for (Eigen::Index j = 0; j < n; ++j) dp(j) = diag(perm(j));

  auto unpivot = [&](const Eigen::VectorXd& z) {
    Eigen::VectorXd x(n);
    for (Eigen::Index j = 0; j < n; ++j) x(perm(j)) = z(j);
    return x;
  };

  // Gauss-Newton direction; on a singular R, the components past the first zero pivot are 0.
  Eigen::Index nsing = n;
  for (Eigen::Index j = 0; j < n; ++j)
    if (R(j, j) == 0) {
      nsing = j;
      break;
    }
  Eigen::VectorXd z = Eigen::VectorXd::Zero(n);
  if (nsing > 0)
    z.head(nsing) = R.topLeftCorner(nsing, nsing).triangularView<Eigen::Upper>().solve(qtr.head(nsing));
  Eigen::VectorXd x = unpivot(z);

  Eigen::VectorXd dz = dp.cwiseProduct(z);  // D x in pivoted order
  double dxnorm = dz.norm();
  double fp = dxnorm - delta;
  if (fp <= 0.1 * delta) {
    par = 0;
    return x;
  }

  // Lower bound from the Newton step at par = 0 (only with full rank).
  double parl = 0;
  if (nsing == n) {
    Eigen::VectorXd w = dp.cwiseProduct(dz) / dxnorm;
    R.triangularView<Eigen::Upper>().transpose().solveInPlace(w);
    const double wn = w.norm();
    parl = fp / delta / wn / wn;
  }
  // Upper bound from the gradient.
  Eigen::VectorXd g = R.triangularView<Eigen::Upper>().transpose() * qtr;
  g = g.cwiseQuotient(dp);
  const double gnorm = g.norm();
  double paru = gnorm / delta;
  if (paru == 0) paru = dwarf / std::min(delta, 0.1);

  par = std::clamp(par, parl, paru);
  if (par == 0) par = gnorm / dxnorm;

  Eigen::MatrixXd stacked(2 * n, n);
  Eigen::VectorXd rhs(2 * n);
  for (int iter = 1;; ++iter) {
    if (par == 0) par = std::max(dwarf, 0.001 * paru);
    // min || [R; sqrt(par) Dp] z - [qtr; 0] || by a small QR; S is its triangular factor.
    stacked.topRows(n) = R.triangularView<Eigen::Upper>();
    stacked.bottomRows(n) = (std::sqrt(par) * dp).asDiagonal();
    rhs.head(n) = qtr;
    rhs.tail(n).setZero();
    Eigen::HouseholderQR<Eigen::MatrixXd> small(stacked);
    const Eigen::MatrixXd S = small.matrixQR().topRows(n).triangularView<Eigen::Upper>();
    Eigen::VectorXd qtb = small.householderQ().adjoint() * rhs;
    z = S.triangularView<Eigen::Upper>().solve(qtb.head(n));
    x = unpivot(z);
    dz = dp.cwiseProduct(z);
    dxnorm = dz.norm();
    const double previous = fp;
    fp = dxnorm - delta;
    if (std::abs(fp) <= 0.1 * delta || (parl == 0 && fp <= previous && previous < 0) || iter == 10)
      break;
    // Newton correction to par.
    Eigen::VectorXd w = dp.cwiseProduct(dz) / dxnorm;
    S.triangularView<Eigen::Upper>().transpose().solveInPlace(w);
    const double wn = w.norm();
    const double parc = fp / delta / wn / wn;
    if (fp > 0) parl = std::max(parl, par);
    if (fp < 0) paru = std::min(paru, par);
    par = std::max(parl, par + parc);
  }
  return x;
}

}  // namespace detail

template <typename Problem>
LmResult levenberg_marquardt(const Problem& problem, Eigen::VectorXd params, const LmOptions& options = {}) {
  const Eigen::Index n = params.size(), m = problem.residual_count();
  BIQA_CHECK(n > 0 && m >= n, ErrorCode::invalid_argument, "levenberg_marquardt: ", n,
             " parameters need at least as many residuals, got ", m);
  constexpr double eps = std::numeric_limits<double>::epsilon();
  const int max_evaluations = options.max_evaluations > 0 ? options.max_evaluations : 400 * int(n + 1);

  LmResult result;
  Eigen::VectorXd r(m), r_new(m), trial(n);
  Eigen::MatrixXd J(m, n);
  problem.residuals(params, r);
  result.evaluations = 1;
  double fnorm = r.norm();
  BIQA_CHECK(std::isfinite(fnorm), ErrorCode::numeric,
             "levenberg_marquardt: the model is not finite at the start values");

  Eigen::VectorXd diag(n), acnorm(n);
  double par = 0, delta = 0, xnorm = 0;
  for (int iter = 1;; ++iter) {
    problem.jacobian(params, J);
    result.iterations = iter;
    if (!J.allFinite()) {  // cannot linearise here; the last accepted point is the answer
      result.status = LmStatus::at_precision;
      break;
    }
    for (Eigen::Index j = 0; j < n; ++j) acnorm(j) = J.col(j).norm();
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(J);
    const Eigen::MatrixXd R = qr.matrixQR().topRows(n).triangularView<Eigen::Upper>();
    const Eigen::VectorXi perm = qr.colsPermutation().indices().cast<int>();
    const Eigen::VectorXd qtr = (qr.householderQ().adjoint() * r).head(n);

    if (iter == 1) {
      for (Eigen::Index j = 0; j < n; ++j) diag(j) = acnorm(j) == 0 ? 1.0 : acnorm(j);
      xnorm = diag.cwiseProduct(params).norm();
      delta = options.step_bound * xnorm;
      if (delta == 0) delta = options.step_bound;
    }

    // Largest cosine between the residual and a Jacobian column: the scaled gradient.
    double gnorm = 0;
    if (fnorm != 0) {
      for (Eigen::Index j = 0; j < n; ++j) {
        const Eigen::Index l = perm(j);
        if (acnorm(l) == 0) continue;
        const double s = R.col(j).head(j + 1).dot(qtr.head(j + 1)) / fnorm;
        gnorm = std::max(gnorm, std::abs(s / acnorm(l)));
      }
    }
    if (gnorm <= options.gtol) {
      result.status = LmStatus::small_gradient;
      break;
    }
    if (gnorm <= eps) {
      result.status = LmStatus::at_precision;
      break;
    }
    diag = diag.cwiseMax(acnorm);

    bool stop = false;
    double ratio = 0;
    do {
      const Eigen::VectorXd step = -detail::lm_parameter(R, perm, diag, qtr, delta, par);
      trial = params + step;
      const double pnorm = diag.cwiseProduct(step).norm();
      if (iter == 1) delta = std::min(delta, pnorm);
      problem.residuals(trial, r_new);
      ++result.evaluations;
      double fnorm1 = r_new.norm();
      if (!std::isfinite(fnorm1)) fnorm1 = std::numeric_limits<double>::infinity();

      const double actred = 0.1 * fnorm1 < fnorm ? 1 - (fnorm1 / fnorm) * (fnorm1 / fnorm) : -1.0;
      Eigen::VectorXd pstep(n);
      for (Eigen::Index j = 0; j < n; ++j) pstep(j) = step(perm(j));
      const double t1 = (R.triangularView<Eigen::Upper>() * pstep).norm() / fnorm;
      const double t2 = std::sqrt(par) * pnorm / fnorm;
      const double prered = t1 * t1 + t2 * t2 / 0.5;
      const double dirder = -(t1 * t1 + t2 * t2);
      ratio = prered != 0 ? actred / prered : 0.0;

      // Adapt the trust region.
      if (ratio <= 0.25) {
        double shrink = actred >= 0 ? 0.5 : 0.5 * dirder / (dirder + 0.5 * actred);
        if (0.1 * fnorm1 >= fnorm || shrink < 0.1) shrink = 0.1;
        delta = shrink * std::min(delta, pnorm / 0.1);
        par /= shrink;
      } else if (par == 0 || ratio >= 0.75) {
        delta = pnorm / 0.5;
        par *= 0.5;
      }
      if (ratio >= 1e-4) {  // accept
        params = trial;
        r.swap(r_new);
        xnorm = diag.cwiseProduct(params).norm();
        fnorm = fnorm1;
      }

      if (std::abs(actred) <= options.ftol && prered <= options.ftol && 0.5 * ratio <= 1) {
        result.status = LmStatus::small_reduction;
        stop = true;
      } else if (delta <= options.xtol * xnorm) {
        result.status = LmStatus::small_step;
        stop = true;
      } else if (result.evaluations >= max_evaluations) {
        result.status = LmStatus::max_evaluations;
        stop = true;
      } else if ((std::abs(actred) <= eps && prered <= eps && 0.5 * ratio <= 1) || delta <= eps * xnorm) {
        result.status = LmStatus::at_precision;
        stop = true;
      }
    } while (!stop && ratio < 1e-4);
    if (stop) break;
  }
  result.params = params;
  result.sse = fnorm * fnorm;
  return result;
}

}  // namespace biqa::metrics

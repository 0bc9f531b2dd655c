#pragma once
/// @file
/// A small dense Levenberg-Marquardt least-squares solver for the logistic fits.
///
/// It follows the trust-region formulation of J. J. Moré, "The Levenberg-Marquardt algorithm:
/// implementation and theory" (Numerical Analysis, LNM 630, 1978), which is also what MINPACK's
/// lmder/lmdif (and so scipy.optimize.curve_fit's default method 'lm') implement: the step solves
/// min ||J p + r|| subject to ||D p|| <= delta, D the running maximum of the Jacobian's column
/// norms, the radius delta adapted from the ratio of actual to predicted reduction. Following the
/// same algorithm from the same start makes it land in the same local minimum as curve_fit, which
/// matters because logistic fits have several.
///
/// Written for a handful of parameters and many residuals, with its own Householder QR rather
/// than Eigen's: instantiating Eigen's QR costs every translation unit that includes biqa.hpp
/// several seconds of compile time, and a 5-column QR is a few lines.
///
/// Problem concept (residuals r = model - data; the solver minimises sum r^2):
///   std::size_t residual_count() const;
///   void residuals(std::span<const double> params, std::span<double> r) const;
///   void jacobian(std::span<const double> params, std::span<double> J) const;
///       // J column-major, residual_count() x params.size(): J[j * m + i] = dr_i / dparams_j

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "biqa/core/error.hpp"

namespace biqa::metrics {

struct LmOptions {
  /// Stop when the actual and predicted relative reductions of the sum of squares are both below
  /// ftol, or when the trust region shrinks below xtol * ||D params||. Tighter than curve_fit's
  /// 1.49e-8 defaults so that the parameters, not only the fitted values, are pinned down.
  double ftol = 1e-15;
  double xtol = 1e-12;
  double gtol = 0.0;  // stop when the scaled gradient's largest entry falls to this
  int max_evaluations = 0;  ///< residual evaluations; 0 = 400 * (parameters + 1)
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
  std::vector<double> params;
  double sse = 0;  ///< sum of squared residuals at params
  int evaluations = 0;
  int iterations = 0;  ///< Jacobian evaluations
  LmStatus status = LmStatus::max_evaluations;
  bool converged() const { return status != LmStatus::max_evaluations; }
};

namespace detail {

using Vec = std::vector<double>;

inline double norm2(std::span<const double> v) {
  // Scaled, so that squares of large residuals cannot overflow.
  double scale = 0;
  for (double x : v) scale = std::max(scale, std::abs(x));
  if (scale == 0 || !std::isfinite(scale)) return scale;
  double s = 0;
  for (double x : v) s += (x / scale) * (x / scale);
  return scale * std::sqrt(s);
}

/// Householder QR of the column-major m x n matrix A (overwritten), optionally with column
/// pivoting (largest remaining column norm first), applied also to the vector b:
///   A P = Q R,  b <- Q^T b.
/// R (n x n, upper, column-major) and the permutation (pivoted column k = original perm[k]) are
/// returned. Q is not formed.
struct QR {
  std::size_t n = 0;
  Vec R;  ///< R[j * n + i], i <= j
  std::vector<std::size_t> perm;
  double r(std::size_t i, std::size_t j) const { return R[j * n + i]; }
};

inline QR householder_qr(Vec& A, std::size_t m, std::size_t n, Vec& b, bool pivot) {
  QR qr;
  qr.n = n;
  qr.R.assign(n * n, 0.0);
  qr.perm.resize(n);
  std::iota(qr.perm.begin(), qr.perm.end(), std::size_t{0});
  auto col = [&](std::size_t j) { return A.data() + j * m; };
  for (std::size_t k = 0; k < n && k < m; ++k) {
    if (pivot) {
      std::size_t best = k;
      double best_norm = -1;
      for (std::size_t j = k; j < n; ++j) {
        const double nj = norm2(std::span<const double>(col(j) + k, m - k));
        if (nj > best_norm) best_norm = nj, best = j;
      }
      if (best != k) {
        std::swap_ranges(col(k), col(k) + m, col(best));
        std::swap(qr.perm[k], qr.perm[best]);
      }
    }
    double* x = col(k) + k;
    const std::size_t len = m - k;
    const double xnorm = norm2(std::span<const double>(x, len));
    if (xnorm == 0) continue;  // R(k,k) = 0: a zero column
    // H = I - v v^T / (v_0 * alpha_neg), v = x - alpha e_0, alpha = -sign(x_0) ||x||.
    const double alpha = x[0] > 0 ? -xnorm : xnorm;
    x[0] -= alpha;
    const double vtv_half = -alpha * x[0];  // v^T v / 2
    auto reflect = [&](double* y) {
      double dot = 0;
      for (std::size_t i = 0; i < len; ++i) dot += x[i] * y[i];
      const double f = dot / vtv_half;
      for (std::size_t i = 0; i < len; ++i) y[i] -= f * x[i];
    };
    for (std::size_t j = k + 1; j < n; ++j) reflect(col(j) + k);
    reflect(b.data() + k);
    x[0] = alpha;  // the reflected column is alpha e_0
    std::fill(x + 1, x + len, 0.0);
  }
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i <= j && i < m; ++i) qr.R[j * n + i] = col(j)[i];
  return qr;
}

/// Solves R z = b (upper triangular) over the leading `rank` unknowns; the rest are 0.
inline Vec solve_upper(const QR& qr, const Vec& b, std::size_t rank) {
  Vec z(qr.n, 0.0);
  for (std::size_t ii = rank; ii-- > 0;) {
    double s = b[ii];
    for (std::size_t j = ii + 1; j < rank; ++j) s -= qr.r(ii, j) * z[j];
    z[ii] = s / qr.r(ii, ii);
  }
  return z;
}

/// Solves R^T w = b (lower triangular).
inline Vec solve_upper_transposed(const QR& qr, Vec b) {
  for (std::size_t j = 0; j < qr.n; ++j) {
    double s = b[j];
    for (std::size_t i = 0; i < j; ++i) s -= qr.r(i, j) * b[i];
    b[j] = s / qr.r(j, j);
  }
  return b;
}

/// Solves the trust-region subproblem for the current linearisation (Moré's "lmpar"): finds
/// par >= 0 and the step x with (J^T J + par D^2) x = J^T r and ||D x|| within 10% of delta, or
/// par = 0 when the Gauss-Newton step already fits. J P = Q R, qtr = (Q^T r)[0..n). Returns x in
/// the original parameter order; the step to take is -x.
inline Vec lm_parameter(const QR& qr, const Vec& diag, const Vec& qtr, double delta, double& par) {
  const std::size_t n = qr.n;
  constexpr double dwarf = std::numeric_limits<double>::min();
  Vec dp(n);  // diag in pivoted order
  for (std::size_t j = 0; j < n; ++j) dp[j] = diag[qr.perm[j]];
  auto unpivot = [&](const Vec& z) {
    Vec x(n);
    for (std::size_t j = 0; j < n; ++j) x[qr.perm[j]] = z[j];
    return x;
  };
  auto scaled_norm = [&](const Vec& z, Vec& dz) {
    for (std::size_t j = 0; j < n; ++j) dz[j] = dp[j] * z[j];
    return norm2(dz);
  };

  // Gauss-Newton direction; on a singular R, the components past the first zero pivot are 0.
  std::size_t nsing = n;
  for (std::size_t j = 0; j < n; ++j)
    if (qr.r(j, j) == 0) {
      nsing = j;
      break;
    }
  Vec z = solve_upper(qr, qtr, nsing), dz(n);
  double dxnorm = scaled_norm(z, dz);
  double fp = dxnorm - delta;
  if (fp <= 0.1 * delta) {
    par = 0;
    return unpivot(z);
  }

  // Lower bound from the Newton step at par = 0 (only with full rank).
  double parl = 0;
  if (nsing == n) {
    Vec w(n);
    for (std::size_t j = 0; j < n; ++j) w[j] = dp[j] * dz[j] / dxnorm;
    const double wn = norm2(solve_upper_transposed(qr, w));
    parl = fp / delta / wn / wn;
  }
  // Upper bound from the gradient R^T qtr, scaled.
  Vec g(n);
  for (std::size_t j = 0; j < n; ++j) {
    double s = 0;
    for (std::size_t i = 0; i <= j; ++i) s += qr.r(i, j) * qtr[i];
    g[j] = s / dp[j];
  }
  const double gnorm = norm2(g);
  double paru = gnorm / delta;
  if (paru == 0) paru = dwarf / std::min(delta, 0.1);

  par = std::clamp(par, parl, paru);
  if (par == 0) par = gnorm / dxnorm;

  for (int iter = 1;; ++iter) {
    if (par == 0) par = std::max(dwarf, 0.001 * paru);
    // min || [R; sqrt(par) Dp] z - [qtr; 0] || by a QR of the stacked 2n x n matrix; its R is S.
    Vec stacked(2 * n * n, 0.0), rhs(2 * n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = 0; i <= j; ++i) stacked[j * 2 * n + i] = qr.r(i, j);
      stacked[j * 2 * n + n + j] = std::sqrt(par) * dp[j];
      rhs[j] = qtr[j];
    }
    const QR s = householder_qr(stacked, 2 * n, n, rhs, /*pivot=*/false);
    z = solve_upper(s, rhs, n);
    dxnorm = scaled_norm(z, dz);
    const double previous = fp;
    fp = dxnorm - delta;
    if (std::abs(fp) <= 0.1 * delta || (parl == 0 && fp <= previous && previous < 0) || iter == 10) break;
    // Newton correction to par.
    Vec w(n);
    for (std::size_t j = 0; j < n; ++j) w[j] = dp[j] * dz[j] / dxnorm;
    const double wn = norm2(solve_upper_transposed(s, w));
    const double parc = fp / delta / wn / wn;
    if (fp > 0) parl = std::max(parl, par);
    if (fp < 0) paru = std::min(paru, par);
    par = std::max(parl, par + parc);
  }
  return unpivot(z);
}

}  // namespace detail

template <typename Problem>
LmResult levenberg_marquardt(const Problem& problem, std::vector<double> params, const LmOptions& options = {}) {
  using detail::Vec;
  using detail::norm2;
  const std::size_t n = params.size(), m = problem.residual_count();
  BIQA_CHECK(n > 0 && m >= n, ErrorCode::invalid_argument, "levenberg_marquardt: ", n,
             " parameters need at least as many residuals, got ", m);
  constexpr double eps = std::numeric_limits<double>::epsilon();
  const int max_evaluations = options.max_evaluations > 0 ? options.max_evaluations : 400 * int(n + 1);

  LmResult result;
  Vec r(m), r_new(m), trial(n), J(m * n), qtr(m);
  problem.residuals(params, r);
  result.evaluations = 1;
  double fnorm = norm2(r);
  BIQA_CHECK(std::isfinite(fnorm), ErrorCode::numeric, "levenberg_marquardt: the model is not finite at the start values");

  Vec diag(n), acnorm(n);
  double par = 0, delta = 0, xnorm = 0;
  auto scaled_norm = [&](const Vec& v) {
    Vec d(n);
    for (std::size_t j = 0; j < n; ++j) d[j] = diag[j] * v[j];
    return norm2(d);
  };
  for (int iter = 1;; ++iter) {
    problem.jacobian(params, J);
    result.iterations = iter;
    if (!std::all_of(J.begin(), J.end(), [](double v) { return std::isfinite(v); })) {
      result.status = LmStatus::at_precision;  // cannot linearise here; keep the last point
      break;
    }
    for (std::size_t j = 0; j < n; ++j) acnorm[j] = norm2(std::span<const double>(J.data() + j * m, m));
    std::copy(r.begin(), r.end(), qtr.begin());
    const detail::QR qr = detail::householder_qr(J, m, n, qtr, /*pivot=*/true);  // J is consumed
    const Vec qtr_n(qtr.begin(), qtr.begin() + std::ptrdiff_t(n));

    if (iter == 1) {
      for (std::size_t j = 0; j < n; ++j) diag[j] = acnorm[j] == 0 ? 1.0 : acnorm[j];
      xnorm = scaled_norm(params);
      delta = options.step_bound * xnorm;
      if (delta == 0) delta = options.step_bound;
    }

    // Largest cosine between the residual and a Jacobian column: the scaled gradient.
    double gnorm = 0;
    if (fnorm != 0) {
      for (std::size_t j = 0; j < n; ++j) {
        const std::size_t l = qr.perm[j];
        if (acnorm[l] == 0) continue;
        double s = 0;
        for (std::size_t i = 0; i <= j; ++i) s += qr.r(i, j) * qtr_n[i] / fnorm;
        gnorm = std::max(gnorm, std::abs(s / acnorm[l]));
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
    for (std::size_t j = 0; j < n; ++j) diag[j] = std::max(diag[j], acnorm[j]);

    bool stop = false;
    double ratio = 0;
    do {
      Vec step = detail::lm_parameter(qr, diag, qtr_n, delta, par);
      for (std::size_t j = 0; j < n; ++j) {
        step[j] = -step[j];
        trial[j] = params[j] + step[j];
      }
      const double pnorm = scaled_norm(step);
      if (iter == 1) delta = std::min(delta, pnorm);
      problem.residuals(trial, r_new);
      ++result.evaluations;
      double fnorm1 = norm2(r_new);
      if (!std::isfinite(fnorm1)) fnorm1 = std::numeric_limits<double>::infinity();

      const double actred = 0.1 * fnorm1 < fnorm ? 1 - (fnorm1 / fnorm) * (fnorm1 / fnorm) : -1.0;
      // Predicted reduction: ||J step||^2 = ||R P^T step||^2.
      double jstep2 = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = i; j < n; ++j) s += qr.r(i, j) * step[qr.perm[j]];
        jstep2 += s * s;
      }
      const double t1 = std::sqrt(jstep2) / fnorm;
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
        xnorm = scaled_norm(params);
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
  result.params = std::move(params);
  result.sse = fnorm * fnorm;
  return result;
}

}  // namespace biqa::metrics

#pragma once
/// @file
/// Linear probing, the protocol DSMix and ExIQA report: a frozen model's features -> a linear
/// (ridge) or small MLP head fitted to MOS. This file: feature standardisation and closed-form
/// ridge regression.
///
/// Ridge on standardised features z = (x - mean) / std (population std; a constant feature gets
/// std 1) with an unpenalised intercept: w = (Z'Z + lambda I)^-1 Z'(y - mean(y)), b = mean(y). The
/// head is then folded back to raw features, so a saved head applies to features as they come.

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "biqa/core/error.hpp"

namespace biqa::probe {

using MatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Per-feature mean and standard deviation of the training rows.
struct Standardizer {
  Eigen::VectorXd mean, scale;

  static Standardizer fit(const MatrixXd& x) {
    BIQA_CHECK(x.rows() >= 1, ErrorCode::invalid_argument, "probe: no training rows");
    Standardizer s;
    s.mean = x.colwise().mean().transpose();
    s.scale.resize(x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      const double var = (x.col(j).array() - s.mean(j)).square().mean();
      s.scale(j) = var > 0 ? std::sqrt(var) : 1.0;
    }
    return s;
  }
  MatrixXd apply(const MatrixXd& x) const {
    return ((x.rowwise() - mean.transpose()).array().rowwise() / scale.transpose().array()).matrix();
  }
};

/// y = weight . x + bias on raw features.
struct LinearHead {
  Eigen::VectorXd weight;
  double bias = 0;

  Eigen::VectorXd predict(const MatrixXd& x) const { return (x * weight).array() + bias; }
};

inline void check_xy(const MatrixXd& x, std::span<const double> y) {
  BIQA_CHECK(std::size_t(x.rows()) == y.size(), ErrorCode::invalid_argument, "probe: ", x.rows(),
             " feature rows but ", y.size(), " scores");
  BIQA_CHECK(x.rows() >= 2 && x.cols() >= 1, ErrorCode::invalid_argument, "probe: need at least 2 rows and 1 feature, got ",
             x.rows(), " x ", x.cols());
  for (double v : y) BIQA_CHECK(std::isfinite(v), ErrorCode::invalid_argument, "probe: a score is not finite");
  BIQA_CHECK(x.allFinite(), ErrorCode::invalid_argument, "probe: the features hold NaN or infinite values");
}

inline LinearHead fit_ridge(const MatrixXd& x, std::span<const double> y, double lambda) {
  check_xy(x, y);
  BIQA_CHECK(lambda >= 0 && std::isfinite(lambda), ErrorCode::invalid_argument, "ridge: lambda must be >= 0, got ", lambda);
  const Standardizer st = Standardizer::fit(x);
  const MatrixXd z = st.apply(x);
  const Eigen::Map<const Eigen::VectorXd> yv(y.data(), Eigen::Index(y.size()));
  const double ymean = yv.mean();
  MatrixXd gram = z.transpose() * z;
  gram.diagonal().array() += lambda;
  const Eigen::VectorXd rhs = z.transpose() * (yv.array() - ymean).matrix();
  // LDLT handles the positive semi-definite lambda = 0 case as long as Z'Z is not singular;
  // fall back to a complete orthogonal decomposition (minimum-norm solution) when it is.
  Eigen::VectorXd w;
  Eigen::LDLT<MatrixXd> ldlt(gram);
  if (ldlt.info() == Eigen::Success && ldlt.isPositive() && (gram * (w = ldlt.solve(rhs)) - rhs).norm() <= 1e-8 * (1 + rhs.norm())) {
  } else {
    w = gram.completeOrthogonalDecomposition().solve(rhs);
  }
  LinearHead h;
  h.weight = w.array() / st.scale.array();
  h.bias = ymean - h.weight.dot(st.mean);
  return h;
}

}  // namespace biqa::probe

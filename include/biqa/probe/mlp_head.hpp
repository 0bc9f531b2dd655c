#pragma once
/// @file
/// A small MLP head for linear probing: features -> Linear(D, H) -> ReLU -> Linear(H, 1), trained
/// on standardised features and standardised scores with AdamW (decoupled weight decay on the
/// weight matrices, not the biases) and a cosine learning-rate schedule over all steps, minimising
/// MSE or SmoothL1 (beta 1). Deterministic for a seed: PyTorch-style uniform(+-1/sqrt(fan_in))
/// initialisation and per-epoch shuffles both come from std::mt19937_64 through our own draws.
/// The trained head is folded back to raw features and scores (MlpHead), like nn.Linear pairs.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "biqa/core/error.hpp"
#include "biqa/probe/ridge.hpp"

namespace biqa::probe {

enum class Loss { mse, smooth_l1 };

struct MlpOptions {
  int hidden = 128;
  int epochs = 100;
  int batch_size = 32;
  double lr = 1e-3;
  double weight_decay = 1e-2;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  Loss loss = Loss::mse;
  std::uint64_t seed = 0;
};

/// y = w2 . relu(W1 x + b1) + b2 on raw features.
struct MlpHead {
  MatrixXd w1;          ///< H x D
  Eigen::VectorXd b1;   ///< H
  Eigen::VectorXd w2;   ///< H
  double b2 = 0;

  Eigen::VectorXd predict(const MatrixXd& x) const {
    MatrixXd h = (x * w1.transpose()).rowwise() + b1.transpose();
    h = h.cwiseMax(0.0);
    return (h * w2).array() + b2;
  }
};

namespace detail {

inline double uniform01(std::mt19937_64& gen) { return double(gen() >> 11) * 0x1.0p-53; }

struct Adam {
  MatrixXd m, v;
  void init(Eigen::Index r, Eigen::Index c) {
    m = MatrixXd::Zero(r, c);
    v = MatrixXd::Zero(r, c);
  }
  /// One AdamW step on p with gradient g at step t (1-based) and learning rate lr.
  template <typename P, typename G>
  void step(P& p, const G& g, const MlpOptions& o, double lr, int t, bool decay) {
    if (decay) p *= (1.0 - lr * o.weight_decay);
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g.cwiseProduct(g);
    const double c1 = 1 - std::pow(o.beta1, t), c2 = 1 - std::pow(o.beta2, t);
    p.array() -= lr * (m.array() / c1) / ((v.array() / c2).sqrt() + o.eps);
  }
};

}  // namespace detail

inline MlpHead fit_mlp(const MatrixXd& x, std::span<const double> y, const MlpOptions& o = {}) {
  check_xy(x, y);
  BIQA_CHECK(o.hidden >= 1 && o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0 && o.weight_decay >= 0,
             ErrorCode::invalid_argument, "mlp head: hidden, epochs, batch size and lr must be positive");
  const Eigen::Index n = x.rows(), d = x.cols(), hsz = o.hidden;
  const Standardizer st = Standardizer::fit(x);
  const MatrixXd z = st.apply(x);
  const Eigen::Map<const Eigen::VectorXd> yv(y.data(), n);
  const double ymean = yv.mean();
  double ystd = std::sqrt((yv.array() - ymean).square().mean());
  if (!(ystd > 0)) ystd = 1;
  const Eigen::VectorXd t = (yv.array() - ymean) / ystd;

  std::mt19937_64 gen(o.seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
  auto init = [&](double bound) { return (2 * detail::uniform01(gen) - 1) * bound; };
  MatrixXd w1(hsz, d), w2(1, hsz), b1(1, hsz), b2(1, 1);
  const double bound1 = 1 / std::sqrt(double(d)), bound2 = 1 / std::sqrt(double(hsz));
  for (Eigen::Index i = 0; i < w1.size(); ++i) w1.data()[i] = init(bound1);
  for (Eigen::Index i = 0; i < hsz; ++i) b1(0, i) = init(bound1);
  for (Eigen::Index i = 0; i < hsz; ++i) w2(0, i) = init(bound2);
  b2(0, 0) = init(bound2);
  detail::Adam aw1, ab1, aw2, ab2;
  aw1.init(hsz, d);
  ab1.init(1, hsz);
  aw2.init(1, hsz);
  ab2.init(1, 1);

  const Eigen::Index batches = (n + o.batch_size - 1) / o.batch_size;
  const long long total = (long long)o.epochs * batches;
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n), 0);
  for (Eigen::Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  int step = 0;
  MatrixXd zb, h, a, gh;
  Eigen::VectorXd out, g, tb;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) {  // Fisher-Yates with unbiased draws
      const std::uint64_t lim = ~0ull - (~0ull % i + 1) % i;
      std::uint64_t r;
      do r = gen(); while (r > lim);
      std::swap(order[i - 1], order[std::size_t(r % i)]);
    }
    for (Eigen::Index b = 0; b < batches; ++b) {
      const Eigen::Index lo = b * o.batch_size, m = std::min<Eigen::Index>(o.batch_size, n - lo);
      zb.resize(m, d);
      tb.resize(m);
      for (Eigen::Index r = 0; r < m; ++r) {
        zb.row(r) = z.row(order[std::size_t(lo + r)]);
        tb(r) = t(order[std::size_t(lo + r)]);
      }
      h = (zb * w1.transpose()).rowwise() + b1.row(0);
      a = h.cwiseMax(0.0);
      out = (a * w2.row(0).transpose()).array() + b2(0, 0);
      const Eigen::VectorXd diff = out - tb;
      if (o.loss == Loss::mse) g = 2.0 * diff / double(m);
      else g = diff.unaryExpr([](double e) { return std::fabs(e) < 1 ? e : (e > 0 ? 1.0 : -1.0); }) / double(m);
      const MatrixXd gw2 = g.transpose() * a;                       // 1 x H
      const MatrixXd gb2 = MatrixXd::Constant(1, 1, g.sum());
      gh = (g * w2.row(0)).cwiseProduct((h.array() > 0).cast<double>().matrix());  // m x H
      const MatrixXd gw1 = gh.transpose() * zb;                     // H x D
      const MatrixXd gb1 = gh.colwise().sum();
      ++step;
      const double lr = o.lr * 0.5 * (1 + std::cos(M_PI * double(step - 1) / double(total)));
      aw1.step(w1, gw1, o, lr, step, true);
      ab1.step(b1, gb1, o, lr, step, false);
      aw2.step(w2, gw2, o, lr, step, true);
      ab2.step(b2, gb2, o, lr, step, false);
    }
  }
  // Fold the standardisation of features and scores into the layers.
  MlpHead head;
  head.w1 = w1.array().rowwise() / st.scale.transpose().array();
  head.b1 = b1.row(0).transpose() - head.w1 * st.mean;
  head.w2 = w2.row(0).transpose() * ystd;
  head.b2 = b2(0, 0) * ystd + ymean;
  return head;
}

}  // namespace biqa::probe

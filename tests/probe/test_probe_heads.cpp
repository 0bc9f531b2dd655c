#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "biqa/io/npy.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/probe/head_file.hpp"
#include "biqa/probe/mlp_head.hpp"
#include "biqa/probe/ridge.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {

probe::MatrixXd load_features() {
  const auto a = io::read_npy(test::data_path("probe/ridge_features.npy")).as<double>();
  probe::MatrixXd x(a.shape()[0], a.shape()[1]);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = a.data()[i];
  return x;
}

std::vector<double> load_mos() {
  std::vector<double> y;
  const auto b = io::read_file_bytes(test::data_path("probe/ridge_mos.txt"));
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  std::size_t at = 0;
  while (at < s.size()) {
    const auto nl = s.find('\n', at);
    y.push_back(std::stod(s.substr(at, nl - at)));
    at = nl + 1;
  }
  return y;
}

}  // namespace

TEST_CASE("probe: ridge matches numpy's closed form", "[probe]") {
  const auto x = load_features();
  const auto y = load_mos();
  const auto expected = io::read_npy(test::data_path("probe/ridge_expected.npy")).as<double>();
  const double lambdas[] = {0.01, 0.5, 10.0};  // tools/reference/make_probe_fixtures.py LAMBDAS
  for (int k = 0; k < 3; ++k) {
    INFO("lambda " << lambdas[k]);
    const auto h = probe::fit_ridge(x, y, lambdas[k]);
    double scale = 0, err = 0;
    for (int j = 0; j <= 6; ++j) {
      const double got = j < 6 ? h.weight(j) : h.bias, want = expected(k, j);
      scale = std::max(scale, std::fabs(want));
      err = std::max(err, std::fabs(got - want));
    }
    CHECK(err / scale <= 1e-6);
  }
}

TEST_CASE("probe: MLP head learns a linear target and is deterministic", "[probe]") {
  std::mt19937_64 gen(5);
  std::normal_distribution<double> nd;
  const int n = 300, d = 10;
  probe::MatrixXd x(n, d);
  std::vector<double> y(n);
  Eigen::VectorXd w(d);
  for (int j = 0; j < d; ++j) w(j) = nd(gen);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) x(i, j) = nd(gen) * (1 + j) + j;
    y[std::size_t(i)] = 40 + 5 * x.row(i).dot(w) + 0.5 * nd(gen);
  }
  probe::MlpOptions o;
  o.hidden = 32;
  o.epochs = 60;
  o.lr = 3e-3;
  o.seed = 9;
  const auto head = probe::fit_mlp(x.topRows(240), std::vector<double>(y.begin(), y.begin() + 240), o);
  const Eigen::VectorXd p = head.predict(x.bottomRows(60));
  const std::vector<double> pred(p.data(), p.data() + 60), truth(y.begin() + 240, y.end());
  CHECK(metrics::srcc(pred, truth) > 0.9);
  // An untrained head (one step at a tiny rate) does not: the test can fail.
  probe::MlpOptions weak = o;
  weak.epochs = 1;
  weak.lr = 1e-7;
  weak.batch_size = 240;
  const Eigen::VectorXd pw = probe::fit_mlp(x.topRows(240), std::vector<double>(y.begin(), y.begin() + 240), weak).predict(x.bottomRows(60));
  CHECK(metrics::srcc(std::vector<double>(pw.data(), pw.data() + 60), truth) < 0.9);

  o.loss = probe::Loss::smooth_l1;
  const auto a = probe::fit_mlp(x, y, o), b = probe::fit_mlp(x, y, o);
  CHECK(a.w1 == b.w1);
  CHECK(a.b2 == b.b2);
}

TEST_CASE("probe: saved heads load back and into nn::Linear / nn::Mlp", "[probe]") {
  const auto x = load_features();
  const auto y = load_mos();
  test::TempDir dir;
  const auto ridge = probe::fit_ridge(x, y, 0.5);
  probe::save_head(dir.file("ridge.safetensors"), ridge);
  probe::MlpOptions o;
  o.hidden = 8;
  o.epochs = 20;
  const auto mlp = probe::fit_mlp(x, y, o);
  probe::save_head(dir.file("mlp.safetensors"), mlp);

  const Eigen::VectorXd want_r = ridge.predict(x), want_m = mlp.predict(x);
  const auto back_r = probe::predict(probe::load_head(dir.file("ridge.safetensors")), x);
  const auto back_m = probe::predict(probe::load_head(dir.file("mlp.safetensors")), x);
  CHECK((back_r - want_r).cwiseAbs().maxCoeff() <= 1e-5 * want_r.cwiseAbs().maxCoeff());
  CHECK((back_m - want_m).cwiseAbs().maxCoeff() <= 1e-5 * want_m.cwiseAbs().maxCoeff());

  // The layers of the library read the same files.
  Tensor<float> xt(Shape{x.rows(), x.cols()});
  for (Eigen::Index i = 0; i < x.size(); ++i) xt.data()[i] = float(x.data()[i]);
  Context ctx;
  auto store_r = io::open_weights(dir.file("ridge.safetensors"));
  nn::Linear linear(6, 1);
  linear.load(store_r.root());
  store_r.finish();
  const auto out_r = linear.forward(xt, ctx);
  auto store_m = io::open_weights(dir.file("mlp.safetensors"));
  nn::Mlp net({.in_features = 6, .hidden_features = 8, .out_features = 1, .act = ops::Activation::relu});
  net.load(store_m.root());
  store_m.finish();
  const auto out_m = net.forward(xt, ctx);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    CHECK(out_r.data()[i] == Approx(want_r(i)).epsilon(1e-4));
    CHECK(out_m.data()[i] == Approx(want_m(i)).epsilon(1e-4).margin(1e-3));
  }
  // A head file with the wrong shapes is a readable error.
  io::write_safetensors(dir.file("bad.safetensors"), {io::make_blob("weight", Tensor<float>(Shape{2, 6})),
                                                      io::make_blob("bias", Tensor<float>(Shape{1}))});
  CHECK_THROWS_WITH(probe::load_head(dir.file("bad.safetensors")), Catch::Contains("weight must be [1, in_features]"));
}

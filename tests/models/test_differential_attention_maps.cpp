// DifferentialAttention::forward's optional Maps (A1, A2) against the definition computed here in
// double precision from the layer's weights (the DR.Experts fixture's diff_attention.*, whose
// outputs test_dr_experts.cpp checks against the authors' code): maps within 1e-5 absolute, and the
// layer's own cls_weights and output equal (A1 − α·A2) and (A1 − α·A2)·V built from those maps.

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "biqa/core/python_random.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dr_experts/differential_attention.hpp"
#include "support/parity.hpp"

using namespace biqa;
using models::dr_experts::DifferentialAttention;

namespace {
// y = W x + b for one row x, in double.
std::vector<double> affine(const Tensor<float>& w, const Tensor<float>& b, const float* x) {
  std::vector<double> y(std::size_t(w.size(0)));
  for (std::int64_t o = 0; o < w.size(0); ++o) {
    double s = b(o);
    for (std::int64_t i = 0; i < w.size(1); ++i) s += double(w(o, i)) * x[i];
    y[std::size_t(o)] = s;
  }
  return y;
}
std::vector<double> softmax(std::vector<double> v) {
  double m = v[0], sum = 0;
  for (double x : v) m = std::max(m, x);
  for (double& x : v) x = std::exp(x - m), sum += x;
  for (double& x : v) x /= sum;
  return v;
}
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
}  // namespace

TEST_CASE("DR.Experts differential attention: the optional maps are A1 and A2", "[dr_experts][examples]") {
  const io::WeightFile file = io::load_weights(test::fixture_path("models/dr_experts_shared.safetensors"));
  auto w = [&](const std::string& name) { return file.to_float(file.at("diff_attention." + name)).contiguous(); };
  const std::int64_t e = 16, l = 7;
  io::WeightStore store(file);  // finish() is not called: the fixture holds the whole model
  DifferentialAttention attn(e);
  attn.load(store.scope("diff_attention"));
  PythonRandom rng(1);
  auto random = [&](const Shape& s) {
    Tensor<float> t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float(4 * rng.random() - 2);
    return t;
  };
  const Tensor<float> d = random({2, e}), f = random({2, l, e}), s = random({2, l, e});
  Context ctx(1);
  for (bool cls_only : {false, true}) {
    DifferentialAttention::Maps maps;
    const auto res = attn.forward(d, f, s, models::dr_experts::Sign::current, cls_only, ctx, &maps);
    const std::int64_t rows = cls_only ? 1 : l;
    REQUIRE(maps.a1.shape() == Shape{2, l});
    REQUIRE(maps.a2.shape() == Shape{2, rows, l});
    const double scale = 1 / std::sqrt(double(e)), alpha = attn.alpha();
    for (std::int64_t b = 0; b < 2; ++b) {
      const auto q1 = affine(w("W_q1.weight"), w("W_q1.bias"), d.data() + b * e);
      std::vector<double> a1(static_cast<std::size_t>(l));
      std::vector<float> prior_and_token(static_cast<std::size_t>(2 * e));  // W_v reads [d ‖ f_j]
      std::vector<std::vector<double>> v(static_cast<std::size_t>(l));
      for (std::int64_t j = 0; j < l; ++j) {
        a1[std::size_t(j)] = dot(q1, affine(w("W_k1.weight"), w("W_k1.bias"), s.data() + (b * l + j) * e)) * scale;
        for (std::int64_t c = 0; c < e; ++c)
          prior_and_token[std::size_t(c)] = d(b, c), prior_and_token[std::size_t(e + c)] = f(b, j, c);
        v[std::size_t(j)] = affine(w("W_v.weight"), w("W_v.bias"), prior_and_token.data());
      }
      a1 = softmax(a1);
      for (std::int64_t j = 0; j < l; ++j) CHECK(maps.a1(b, j) == Approx(a1[std::size_t(j)]).margin(1e-5));
      for (std::int64_t r = 0; r < rows; ++r) {
        const auto q2 = affine(w("W_q2.weight"), w("W_q2.bias"), f.data() + (b * l + r) * e);
        std::vector<double> a2(static_cast<std::size_t>(l));
        for (std::int64_t j = 0; j < l; ++j)
          a2[std::size_t(j)] = dot(q2, affine(w("W_k2.weight"), w("W_k2.bias"), f.data() + (b * l + j) * e)) * scale;
        a2 = softmax(a2);
        std::vector<double> out(std::size_t(e), 0.0);
        for (std::int64_t j = 0; j < l; ++j) {
          CHECK(maps.a2(b, r, j) == Approx(a2[std::size_t(j)]).margin(1e-5));
          const double c = double(maps.a1(b, j)) - alpha * double(maps.a2(b, r, j));
          if (r == 0) CHECK(res.cls_weights(b, j) == Approx(c).margin(1e-6));
          for (std::int64_t k = 0; k < e; ++k) out[std::size_t(k)] += c * v[std::size_t(j)][std::size_t(k)];
        }
        for (std::int64_t k = 0; k < e; ++k) CHECK(res.out(b, r, k) == Approx(out[std::size_t(k)]).margin(1e-4));
      }
    }
  }
}

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "biqa/ops/cpu/activation.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("activation: GELU, QuickGELU, ReLU, PReLU, SELU, SiLU, sigmoid, softmax match PyTorch", "[ops][activation]") {
  biqa::test::OpFixture f("activation");
  Context ctx(2);
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string(), op = c["op"].as_string();
    const Tensor<float> x = f.get(c, "x");
    Tensor<float> out;
    if (op == "activation") out = ops::activate(x, ops::parse_activation(c["act"].as_string()), ctx);
    else if (op == "prelu") out = ops::prelu(x, f.get(c, "weight"), ctx);
    else if (op == "softmax") out = ops::softmax(x, ctx, static_cast<int>(c["axis"].as_int()));
    else out = ops::log_softmax(x, ctx, static_cast<int>(c["axis"].as_int()));
    biqa::test::check_parity("activation/" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("activation: named entry points agree with activate()", "[ops][activation]") {
  biqa::test::OpFixture f("activation");
  Context ctx;
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    const Tensor<float> x = f.get(c, "x");
    Tensor<float> out;
    if (name == "gelu") out = ops::gelu(x, ctx);
    else if (name == "gelu_tanh") out = ops::gelu(x, ctx, true);
    else if (name == "quick_gelu") out = ops::quick_gelu(x, ctx);
    else if (name == "relu") out = ops::relu(x, ctx);
    else if (name == "silu") out = ops::silu(x, ctx);
    else if (name == "sigmoid") out = ops::sigmoid(x, ctx);
    else if (name == "selu") out = ops::selu(x, ctx);
    else continue;
    biqa::test::check_parity("activation/named_" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("activation: bad arguments raise biqa::Error", "[ops][activation]") {
  Context ctx;
  REQUIRE_THROWS_AS(ops::parse_activation("swish2"), biqa::Error);
  REQUIRE_THROWS_AS(ops::prelu(Tensor<float>::zeros({2, 3, 4}), Tensor<float>::zeros({2}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::softmax(Tensor<float>::zeros({2, 3}), ctx, 2), biqa::Error);
  auto view = Tensor<float>::zeros({3, 4}).transpose(0, 1);
  REQUIRE_THROWS_AS(ops::activate_inplace(view, ops::Activation::relu, ctx), biqa::Error);
}

// The tensor maps run on Eigen's vectorised exp/expm1/tanh/erf; scalar:: keeps the libm definitions.
// They must agree everywhere a model can take them: far tails, ±inf, NaN.
TEST_CASE("activation: vectorised maps agree with the libm definitions on tails, inf and NaN", "[ops][activation]") {
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::vector<float> xs;
  for (int i = 0; i <= 60000; ++i) xs.push_back(-30.0f + 0.001f * static_cast<float>(i));
  for (float v : {inf, -inf, std::numeric_limits<float>::quiet_NaN(), -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 1e30f, -1e30f})
    xs.push_back(v);
  const Tensor<float> x = Tensor<float>::from_vector({static_cast<std::int64_t>(xs.size())}, xs);
  Context ctx(2);
  for (auto a : {ops::Activation::relu, ops::Activation::gelu, ops::Activation::gelu_tanh, ops::Activation::quick_gelu,
                 ops::Activation::silu, ops::Activation::sigmoid, ops::Activation::selu, ops::Activation::tanh}) {
    const Tensor<float> y = ops::activate(x, a, ctx);
    int bad = 0;
    float worst_x = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const float ref = ops::scalar::apply(a, xs[i]), got = y.data()[i];
      const bool ok = std::isnan(ref) ? std::isnan(got)
                      : std::isinf(ref) ? got == ref
                                        : std::fabs(got - ref) <= 2e-6f * std::max(1.0f, std::fabs(ref));
      if (!ok && bad++ == 0) worst_x = xs[i];
    }
    INFO(ops::activation_name(a) << ": " << bad << " disagreements, first at x = " << worst_x);
    CHECK(bad == 0);
  }
}

TEST_CASE("activation: softmax keeps masked logits at exactly 0 and overflows nothing", "[ops][activation]") {
  constexpr float inf = std::numeric_limits<float>::infinity();
  Context ctx;
  const Tensor<float> x = Tensor<float>::from_vector({2, 4}, {0.0f, -inf, 1.0f, -inf, 1000.0f, -inf, 999.0f, -1000.0f});
  const Tensor<float> p = ops::softmax(x, ctx);
  CHECK(p.data()[1] == 0.0f);
  CHECK(p.data()[3] == 0.0f);
  CHECK(p.data()[0] == Approx(1.0 / (1.0 + std::exp(1.0))).epsilon(1e-6));
  CHECK(p.data()[4] == Approx(1.0 / (1.0 + std::exp(-1.0))).epsilon(1e-6));
  CHECK(p.data()[5] == 0.0f);
  CHECK(p.data()[7] == 0.0f);
  const Tensor<float> blocked = ops::softmax(Tensor<float>::from_vector({1, 2}, {-inf, -inf}), ctx);
  CHECK(std::isnan(blocked.data()[0]));  // as in PyTorch
}

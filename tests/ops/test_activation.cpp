#include <catch2/catch.hpp>

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

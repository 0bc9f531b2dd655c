#include <catch2/catch.hpp>

#include "biqa/ops/cpu/norm.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("norm: LayerNorm, GroupNorm, RMSNorm and eval BatchNorm match PyTorch", "[ops][norm]") {
  biqa::test::OpFixture f("norm");
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const std::string name = c["name"].as_string(), op = c["op"].as_string();
      const float eps = static_cast<float>(c["eps"].as_number());
      const Tensor<float> x = f.get(c, "x"), w = f.optional(c, "weight"), b = f.optional(c, "bias");
      Tensor<float> out;
      if (op == "layer_norm") out = ops::layer_norm(x, w, b, ctx, eps);
      else if (op == "group_norm") out = ops::group_norm(x, c["groups"].as_int(), w, b, ctx, eps);
      else if (op == "rms_norm") out = ops::rms_norm(x, w, ctx, eps);
      else out = ops::batch_norm(x, f.get(c, "running_mean"), f.get(c, "running_var"), w, b, ctx, eps);
      biqa::test::check_parity("norm/" + name + "/threads=" + std::to_string(threads), out, f.get(c, "out"));
    }
  }
}

TEST_CASE("norm: mismatched parameters raise biqa::Error", "[ops][norm]") {
  Context ctx;
  const auto x = Tensor<float>::zeros({2, 6, 4});
  REQUIRE_THROWS_AS(ops::layer_norm(x, Tensor<float>::zeros({5}), {}, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::group_norm(x, 4, {}, {}, ctx), biqa::Error);  // 6 channels, 4 groups
  REQUIRE_THROWS_AS(ops::group_norm(Tensor<float>::zeros({6}), 2, {}, {}, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::batch_norm(x, Tensor<float>::zeros({5}), Tensor<float>::zeros({6}), {}, {}, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::rms_norm(x, Tensor<float>::zeros({6}), ctx), biqa::Error);
}

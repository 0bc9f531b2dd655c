#include <catch2/catch.hpp>

#include "biqa/ops/cpu/interpolate.hpp"
#include "support/op_cases.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("interpolate: nearest, bilinear, bicubic, align_corners, antialias, scale factors match PyTorch",
          "[ops][interpolate]") {
  biqa::test::OpFixture f("interpolate");
  Context ctx(2);
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    const ops::InterpolateOptions opt = biqa::test::interpolate_options(c);
    const Tensor<float> x = f.get(c, "x");
    Tensor<float> out;
    if (c.find("scale")) {
      const auto& s = c["scale"].as_array();
      out = ops::interpolate_by_scale(x, s[0].as_number(), s[1].as_number(), ctx, opt);
    } else {
      const auto s = biqa::test::pair_of(c["size"]);
      out = ops::interpolate(x, s[0], s[1], ctx, opt);
    }
    biqa::test::check_parity("interpolate/" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("interpolate: bad arguments raise biqa::Error", "[ops][interpolate]") {
  Context ctx;
  const auto x = Tensor<float>::zeros({1, 1, 4, 4});
  ops::InterpolateOptions nearest_aa{ops::InterpolateMode::nearest, false, true};
  REQUIRE_THROWS_AS(ops::interpolate(x, 2, 2, ctx, nearest_aa), biqa::Error);
  REQUIRE_THROWS_AS(ops::interpolate(x, 0, 2, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::interpolate(Tensor<float>::zeros({4, 4}), 2, 2, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::interpolate_by_scale(x, -1.0, 2.0, ctx), biqa::Error);
}

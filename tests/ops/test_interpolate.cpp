#include <catch2/catch.hpp>

#include <algorithm>

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

TEST_CASE("interpolate_rows: a band of rows equals those rows of the whole resize, bit for bit",
          "[ops][interpolate]") {
  // Every fixture case given by size, in bands of 1, 3 and all rows, from the whole input and from
  // the input rows the band reads.
  biqa::test::OpFixture f("interpolate");
  Context ctx(2);
  int checked = 0;
  for (const auto& c : f.cases()) {
    if (c.find("scale")) continue;  // interpolate_rows takes an output size
    const ops::InterpolateOptions opt = biqa::test::interpolate_options(c);
    const Tensor<float> x = f.get(c, "x");
    const auto s = biqa::test::pair_of(c["size"]);
    const Tensor<float> whole = ops::interpolate(x, s[0], s[1], ctx, opt);
    for (const std::int64_t band : {std::int64_t(1), std::int64_t(3), s[0]})
      for (std::int64_t r0 = 0; r0 < s[0]; r0 += band) {
        const std::int64_t r1 = std::min(s[0], r0 + band);
        INFO(c["name"].as_string() << " rows [" << r0 << ", " << r1 << ")");
        const Tensor<float> expected = whole.slice(2, r0, r1).contiguous();
        CHECK(biqa::test::parity_error(ops::interpolate_rows(x, s[0], s[1], r0, r1, ctx, opt), expected) == 0.0);
        // From only the input rows the band reads (a band computed alone upstream).
        const auto [i0, i1] = ops::interpolate_input_rows(x.size(2), s[0], r0, r1, opt);
        CHECK(biqa::test::parity_error(
                  ops::interpolate_rows(x.slice(2, i0, i1).contiguous(), x.size(2), i0, s[0], s[1], r0, r1, ctx, opt),
                  expected) == 0.0);
      }
    ++checked;
  }
  CHECK(checked > 0);
  const auto x = Tensor<float>::zeros({1, 1, 4, 4});
  REQUIRE_THROWS_AS(ops::interpolate_rows(x, 8, 8, 3, 3, ctx), biqa::Error);   // empty band
  REQUIRE_THROWS_AS(ops::interpolate_rows(x, 8, 8, -1, 2, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::interpolate_rows(x, 8, 8, 5, 9, ctx), biqa::Error);   // past the output
  // An input band that lacks rows the output band reads, or lies outside the input.
  REQUIRE_THROWS_WITH(ops::interpolate_rows(x.slice(2, 0, 2).contiguous(), 4, 0, 8, 8, 6, 8, ctx),
                      Catch::Contains("outside the rows held"));
  REQUIRE_THROWS_AS(ops::interpolate_rows(x, 6, 3, 8, 8, 0, 2, ctx), biqa::Error);  // rows [3, 7) of 6
  REQUIRE_THROWS_AS(ops::interpolate_input_rows(4, 8, 2, 2), biqa::Error);
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

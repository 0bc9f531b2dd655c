#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "biqa/ops/cpu/pool.hpp"
#include "support/op_cases.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("pool: max, average (ceil_mode, count_include_pad, divisor) and adaptive match PyTorch", "[ops][pool]") {
  biqa::test::OpFixture f("pool");
  Context ctx(2);
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string(), op = c["op"].as_string();
    const Tensor<float> x = f.get(c, "x");
    Tensor<float> out;
    if (op == "adaptive_avg") {
      const auto s = biqa::test::pair_of(c["output"]);
      out = ops::adaptive_avg_pool2d(x, s[0], s[1], ctx);
    } else {
      const ops::Pool2dOptions opt = biqa::test::pool_options(c);
      out = op == "max" ? ops::max_pool2d(x, ctx, opt) : ops::avg_pool2d(x, ctx, opt);
    }
    biqa::test::check_parity("pool/" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("pool: bad geometry raises biqa::Error", "[ops][pool]") {
  Context ctx;
  ops::Pool2dOptions opt;
  opt.kernel = {3, 3};
  opt.padding = {2, 2};  // more than half the kernel
  REQUIRE_THROWS_AS(ops::max_pool2d(Tensor<float>::zeros({1, 1, 8, 8}), ctx, opt), biqa::Error);
  opt.padding = {0, 0};
  REQUIRE_THROWS_AS(ops::avg_pool2d(Tensor<float>::zeros({1, 1, 2, 2}), ctx, opt), biqa::Error);  // too small
  REQUIRE_THROWS_AS(ops::max_pool2d(Tensor<float>::zeros({1, 8, 8}), ctx, opt), biqa::Error);
  REQUIRE_THROWS_AS(ops::adaptive_avg_pool2d(Tensor<float>::zeros({1, 1, 4, 4}), 0, 2, ctx), biqa::Error);
}

TEST_CASE("pool: a NaN in a max-pool window wins, as in PyTorch; other windows are untouched", "[ops][pool]") {
  Context ctx;
  Tensor<float> x({1, 1, 4, 4});
  for (std::int64_t i = 0; i < 16; ++i) x.data()[i] = static_cast<float>(i % 5) - 2.0f;
  x(0, 0, 0, 1) = std::numeric_limits<float>::quiet_NaN();
  ops::Pool2dOptions opt;
  opt.kernel = {2, 2}, opt.stride = {2, 2};
  const Tensor<float> y = ops::max_pool2d(x, ctx, opt);
  CHECK(std::isnan(y(0, 0, 0, 0)));
  for (auto [r, c] : {std::pair{0, 1}, std::pair{1, 0}, std::pair{1, 1}}) {
    float m = -std::numeric_limits<float>::infinity();
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) m = std::max(m, x(0, 0, 2 * r + dy, 2 * c + dx));
    CHECK(y(0, 0, r, c) == m);
  }
}

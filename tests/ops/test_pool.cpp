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

TEST_CASE("pool: max pooling equals a direct loop over each window for strides, dilations, padding and ceil_mode",
          "[ops][pool]") {
  // The pooling runs separably (rows, then columns dealt into stride phases); this checks it
  // against every tap of every window, NaNs included, over geometries the fixtures do not reach
  // (horizontal dilation, stride 3, padding on one side only).
  Context ctx(2);
  std::int64_t checked = 0;
  for (std::int64_t kh : {1, 2, 3})
    for (std::int64_t kw : {1, 3, 4})
      for (std::int64_t s : {1, 2, 3})
        for (std::int64_t d : {1, 2})
          for (std::int64_t p : {0, 1})
            for (bool ceil : {false, true}) {
              ops::Pool2dOptions opt;
              opt.kernel = {kh, kw}, opt.stride = {s, s + 1 == 4 ? 1 : s + 1}, opt.dilation = {d, 3 - d};
              opt.padding = {p, p == 1 && kw >= 3 ? 1 : 0}, opt.ceil_mode = ceil;
              Tensor<float> x({2, 3, 9, 11});
              for (std::int64_t i = 0; i < x.numel(); ++i)
                x.data()[i] = static_cast<float>((i * 7919) % 23) - 11.0f;
              x(1, 2, 4, 5) = std::numeric_limits<float>::quiet_NaN();
              Tensor<float> y;
              try {
                y = ops::max_pool2d(x, ctx, opt);
              } catch (const biqa::Error&) {
                continue;  // a geometry PyTorch refuses too (padding over half the kernel)
              }
              const auto [sh, sw] = opt.stride;
              const auto [dh, dw] = opt.dilation;
              const auto [ph, pw] = opt.padding;
              for (std::int64_t n = 0; n < 2; ++n)
                for (std::int64_t c = 0; c < 3; ++c)
                  for (std::int64_t oy = 0; oy < y.size(2); ++oy)
                    for (std::int64_t ox = 0; ox < y.size(3); ++ox) {
                      float m = -std::numeric_limits<float>::infinity();
                      for (std::int64_t ky = 0; ky < kh; ++ky)
                        for (std::int64_t kx = 0; kx < kw; ++kx) {
                          const std::int64_t iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                          if (iy < 0 || iy >= 9 || ix < 0 || ix >= 11) continue;
                          const float v = x(n, c, iy, ix);
                          if (v > m || std::isnan(v)) m = v;
                        }
                      const float got = y(n, c, oy, ox);
                      INFO("kernel " << kh << "x" << kw << " stride " << sh << "," << sw << " dilation " << dh << ","
                                     << dw << " padding " << ph << "," << pw << " ceil " << ceil << " at " << n << ","
                                     << c << "," << oy << "," << ox);
                      if (std::isnan(m))
                        CHECK(std::isnan(got));
                      else
                        CHECK(got == m);
                    }
              ++checked;
            }
  CHECK(checked > 100);
}

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "biqa/ops/cpu/conv2d_blocked.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;
using biqa::test::random_tensor;

namespace {

/// The blocked convolution of an NCHW input, back in NCHW: through a blocked input, or straight
/// from the plain one with a weight packed for it.
Tensor<float> blocked_conv(const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b, Context& ctx,
                           const ops::Conv2dOptions& opt, bool plain_input, const Tensor<float>& residual = {},
                           ops::Activation act = ops::Activation::identity) {
  const ops::BlockedConv2dWeight packed(w, !plain_input);
  const Tensor<float> in = plain_input ? x : ops::to_blocked(x, ctx);
  const Tensor<float> res = residual.defined() ? ops::to_blocked(residual, ctx) : residual;
  return ops::from_blocked(ops::conv2d_blocked(in, packed, b, ctx, opt, {res, act}), w.size(0), ctx);
}
}  // namespace

TEST_CASE("conv2d_blocked: the PyTorch conv2d fixture's ungrouped cases, blocked and plain inputs", "[ops][conv2d]") {
  biqa::test::OpFixture f("conv2d");
  int checked = 0;
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const std::string name = c["name"].as_string();
      if (name == "conv_bn" || c["groups"].as_int() != 1) continue;
      ops::Conv2dOptions opt;
      opt.padding = biqa::test::pair_of(c["padding"]);
      opt.stride = biqa::test::pair_of(c["stride"]);
      opt.dilation = biqa::test::pair_of(c["dilation"]);
      for (bool plain : {false, true}) {
        const Tensor<float> out = blocked_conv(f.get(c, "x"), f.get(c, "weight"), f.optional(c, "bias"), ctx, opt, plain);
        biqa::test::check_parity("conv2d_blocked/" + name + (plain ? "/plain" : "/blocked") + "/threads=" +
                                     std::to_string(threads), out, f.get(c, "out"));
        ++checked;
      }
    }
  }
  REQUIRE(checked >= 8);
}

TEST_CASE("conv2d_blocked: equals conv2d over tile shapes, strides, dilation, padding, channel remainders and epilogues",
          "[ops][conv2d]") {
  struct Geometry {
    std::int64_t n, c, o, h, w, kh, kw;
    ops::Conv2dOptions opt;
  };
  const std::int64_t b = ops::channel_block;
  // Widths from 1 to past two tiles (every tile length and the paired rows of narrow planes),
  // channel counts off the block and odd block counts (a one-block output group).
  const std::vector<Geometry> cases = {
      {1, b, 2 * b, 7, 7, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
      {2, 2 * b, 2 * b, 14, 14, 1, 1, {}},
      {1, b + 3, 3 * b, 9, 30, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 1}},
      {1, 5, std::max<std::int64_t>(b - 1, 3), 5, 1, 3, 1, {{1, 1}, {1, 0}, {1, 1}, 1}},
      {1, 3, 2 * b, 23, 23, 7, 7, {{2, 2}, {3, 3}, {1, 1}, 1}},
      {1, 2 * b, b, 11, 13, 3, 3, {{1, 2}, {2, 1}, {2, 2}, 1}},
      {2, b, 2 * b + 5, 3, 4, 2, 3, {{1, 1}, {0, 2}, {1, 1}, 1}},
      {1, b, 4 * b, 56, 56, 1, 1, {}},
      {1, 7, 9, 16, 17, 1, 1, {{2, 3}, {0, 0}, {1, 1}, 1}},
  };
  std::mt19937 rng(11);
  for (const auto& g : cases) {
    const Tensor<float> x = random_tensor({g.n, g.c, g.h, g.w}, rng);
    const Tensor<float> w = random_tensor({g.o, g.c, g.kh, g.kw}, rng);
    const Tensor<float> bias = random_tensor({g.o}, rng);
    const std::int64_t oh = ops::conv_output_size(g.h, g.kh, g.opt.stride[0], g.opt.padding[0], g.opt.dilation[0]);
    const std::int64_t ow = ops::conv_output_size(g.w, g.kw, g.opt.stride[1], g.opt.padding[1], g.opt.dilation[1]);
    const Tensor<float> residual = random_tensor({g.n, g.o, oh, ow}, rng);
    for (int threads : {1, 2}) {
      Context ctx(threads);
      const std::string label = "c" + std::to_string(g.c) + " o" + std::to_string(g.o) + " " +
                                std::to_string(g.h) + "x" + std::to_string(g.w) + " k" + std::to_string(g.kh) + "x" +
                                std::to_string(g.kw) + " threads=" + std::to_string(threads);
      for (bool plain : {false, true}) {
        biqa::test::check_parity(label + (plain ? " plain" : ""), blocked_conv(x, w, bias, ctx, g.opt, plain),
                                 ops::conv2d(x, w, bias, ctx, g.opt), 1e-5);
        biqa::test::check_parity(label + " no bias", blocked_conv(x, w, {}, ctx, g.opt, plain),
                                 ops::conv2d(x, w, {}, ctx, g.opt), 1e-5);
      }
      for (auto act : {ops::Activation::relu, ops::Activation::gelu}) {
        const Tensor<float> fused = blocked_conv(x, w, bias, ctx, g.opt, false, residual, act);
        const Tensor<float> apart = ops::conv2d(x, w, bias, ctx, g.opt, {residual, act});
        biqa::test::check_parity(label + " residual " + ops::activation_name(act), fused, apart, 1e-5);
      }
    }
  }
}

TEST_CASE("conv2d_blocked: padded output channels stay zero, and a NaN in the input reaches its outputs",
          "[ops][conv2d]") {
  Context ctx(1);
  std::mt19937 rng(5);
  const std::int64_t b = ops::channel_block;
  Tensor<float> x = random_tensor({1, 3, 6, 6}, rng);
  const Tensor<float> w = random_tensor({b + 1, 3, 3, 3}, rng), bias = random_tensor({b + 1}, rng);
  ops::Conv2dOptions opt;
  opt.padding = {1, 1};
  const Tensor<float> out = ops::conv2d_blocked(ops::to_blocked(x, ctx), ops::BlockedConv2dWeight(w, true), bias, ctx,
                                                opt, {{}, ops::Activation::relu});
  REQUIRE(out.shape() == biqa::Shape({1, 2, 6, 6, b}));
  for (std::int64_t p = 0; p < 36; ++p)
    for (std::int64_t l = 1; l < b; ++l) REQUIRE(out.data()[(36 + p) * b + l] == 0.0f);
  x(0, 1, 2, 2) = std::numeric_limits<float>::quiet_NaN();
  const Tensor<float> nan_out = ops::from_blocked(
      ops::conv2d_blocked(ops::to_blocked(x, ctx), ops::BlockedConv2dWeight(w, true), bias, ctx, opt), b + 1, ctx);
  for (std::int64_t y = 0; y < 6; ++y)
    for (std::int64_t xx = 0; xx < 6; ++xx) {
      const bool reached = std::abs(y - 2) <= 1 && std::abs(xx - 2) <= 1;
      REQUIRE(std::isnan(nan_out(0, 0, y, xx)) == reached);
    }
}

TEST_CASE("BlockedConv2dWeight unpacks to the weight it packed, bit for bit", "[ops][conv2d]") {
  std::mt19937 rng(21);
  const std::int64_t b = ops::channel_block;
  for (const biqa::Shape& shape : {biqa::Shape({2 * b, b, 3, 3}), biqa::Shape({3 * b + 1, 5, 1, 1}),
                                   biqa::Shape({b - 1 > 0 ? b - 1 : 1, 2 * b + 3, 2, 3}), biqa::Shape({64, 3, 7, 7})})
    for (bool blocked_input : {true, false}) {
      const Tensor<float> w = random_tensor(shape, rng);
      const Tensor<float> back = ops::BlockedConv2dWeight(w, blocked_input).unpack();
      REQUIRE(back.shape() == w.shape());
      REQUIRE(std::memcmp(back.data(), w.data(), sizeof(float) * static_cast<std::size_t>(w.numel())) == 0);
    }
}

TEST_CASE("conv2d_blocked: wrong inputs are refused with the reason", "[ops][conv2d]") {
  Context ctx(1);
  std::mt19937 rng(3);
  const std::int64_t b = ops::channel_block;
  const ops::BlockedConv2dWeight blocked(random_tensor({4, 2 * b, 3, 3}, rng), true);
  const ops::BlockedConv2dWeight plain(random_tensor({4, 3, 3, 3}, rng), false);
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 2 * b, 5, 5}, rng), blocked, {}, ctx),
                      Catch::Contains("not a blocked tensor"));
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 1, 5, 5, b}, rng), blocked, {}, ctx),
                      Catch::Contains("not a blocked tensor of " + std::to_string(2 * b) + " channels"));
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 4, 5, 5}, rng), plain, {}, ctx),
                      Catch::Contains("packed for a plain input"));
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 3, 2, 2}, rng), plain, {}, ctx),
                      Catch::Contains("smaller than"));
  ops::Conv2dOptions grouped;
  grouped.groups = 2;
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 3, 5, 5}, rng), plain, {}, ctx, grouped),
                      Catch::Contains("groups=2"));
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 3, 5, 5}, rng), plain, random_tensor({5}, rng), ctx),
                      Catch::Contains("bias"));
  REQUIRE_THROWS_WITH(ops::conv2d_blocked(random_tensor({1, 3, 5, 5}, rng), plain, {}, ctx, {},
                                          {random_tensor({1, 1, 5, 5, b}, rng), ops::Activation::identity}),
                      Catch::Contains("residual"));
  REQUIRE_THROWS_WITH(ops::from_blocked(random_tensor({1, 2, 3, 3, b}, rng), b, ctx), Catch::Contains("channels"));
}

TEST_CASE("blocked layout: round trip, max pooling and global average pooling equal the NCHW ops", "[ops][conv2d]") {
  std::mt19937 rng(9);
  const std::int64_t b = ops::channel_block;
  for (std::int64_t c : {std::int64_t(3), b, 2 * b + 5}) {
    for (int threads : {1, 2}) {
      Context ctx(threads);
      Tensor<float> x = random_tensor({2, c, 13, 12}, rng);
      x(1, c - 1, 4, 5) = std::numeric_limits<float>::quiet_NaN();
      const Tensor<float> xb = ops::to_blocked(x, ctx);
      REQUIRE(xb.shape() == biqa::Shape({2, (c + b - 1) / b, 13, 12, b}));
      const Tensor<float> back = ops::from_blocked(xb, c, ctx);
      REQUIRE(std::memcmp(back.data(), x.data(), sizeof(float) * static_cast<std::size_t>(x.numel())) == 0);
      for (const auto& [k, s, p, ceil] : std::vector<std::tuple<int, int, int, bool>>{
               {3, 2, 1, false}, {2, 2, 0, true}, {3, 1, 1, false}, {3, 3, 0, true}}) {
        ops::Pool2dOptions po;
        po.kernel = {k, k}, po.stride = {s, s}, po.padding = {p, p}, po.ceil_mode = ceil;
        const Tensor<float> pooled = ops::from_blocked(ops::max_pool2d_blocked(xb, ctx, po), c, ctx);
        const Tensor<float> ref = ops::max_pool2d(x, ctx, po);
        REQUIRE(pooled.shape() == ref.shape());
        REQUIRE(std::memcmp(pooled.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(ref.numel())) == 0);
      }
      Tensor<float> finite = random_tensor({2, c, 13, 12}, rng);
      const Tensor<float> avg = ops::global_avg_pool_blocked(ops::to_blocked(finite, ctx), c, ctx);
      const Tensor<float> ref = ops::adaptive_avg_pool2d(finite, 1, 1, ctx).reshape({2, c});
      REQUIRE(std::memcmp(avg.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(ref.numel())) == 0);
    }
  }
}

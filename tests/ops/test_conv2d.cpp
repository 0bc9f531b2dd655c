#include <catch2/catch.hpp>

#include <random>

#include "biqa/ops/cpu/conv2d.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("conv2d: stride, padding, dilation, groups, depthwise and 1x1 match PyTorch", "[ops][conv2d]") {
  biqa::test::OpFixture f("conv2d");
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const std::string name = c["name"].as_string();
      ops::Conv2dOptions opt;
      opt.padding = biqa::test::pair_of(c["padding"]);
      Tensor<float> weight = f.get(c, "weight"), bias = f.optional(c, "bias");
      if (name == "conv_bn") {
        // BatchNorm folded into the conv at load time, then one convolution.
        auto folded = ops::fold_batchnorm(weight, bias, f.get(c, "bn_weight"), f.get(c, "bn_bias"),
                                          f.get(c, "running_mean"), f.get(c, "running_var"),
                                          static_cast<float>(c["eps"].as_number()));
        weight = folded.weight, bias = folded.bias;
      } else {
        opt.stride = biqa::test::pair_of(c["stride"]);
        opt.dilation = biqa::test::pair_of(c["dilation"]);
        opt.groups = c["groups"].as_int();
      }
      const Tensor<float> out = ops::conv2d(f.get(c, "x"), weight, bias, ctx, opt);
      biqa::test::check_parity("conv2d/" + name + "/threads=" + std::to_string(threads), out, f.get(c, "out"));
    }
  }
}

TEST_CASE("conv2d: im2col in column blocks equals direct summation", "[ops][conv2d]") {
  // 70x70 outputs with a 27-row im2col: more positions than one column block holds.
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  Tensor<float> x({1, 3, 70, 70}), w({4, 3, 3, 3}), b({4});
  for (auto* t : {&x, &w, &b})
    for (std::int64_t i = 0; i < t->numel(); ++i) t->data()[i] = nd(rng);
  ops::Conv2dOptions opt;
  opt.padding = {1, 1};
  Tensor<float> ref = Tensor<float>::zeros({1, 4, 70, 70});
  for (int o = 0; o < 4; ++o)
    for (int y = 0; y < 70; ++y)
      for (int xx = 0; xx < 70; ++xx) {
        double acc = b(o);
        for (int c = 0; c < 3; ++c)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = y - 1 + ky, ix = xx - 1 + kx;
              if (iy >= 0 && iy < 70 && ix >= 0 && ix < 70) acc += double(x(0, c, iy, ix)) * w(o, c, ky, kx);
            }
        ref(0, o, y, xx) = static_cast<float>(acc);
      }
  for (int threads : {1, 3}) {
    Context ctx(threads);
    biqa::test::check_parity("conv2d/column_blocks/threads=" + std::to_string(threads), ops::conv2d(x, w, b, ctx, opt), ref);
  }
}

TEST_CASE("conv2d: bad shapes and options raise biqa::Error", "[ops][conv2d]") {
  Context ctx;
  const auto x = Tensor<float>::zeros({1, 4, 8, 8});
  REQUIRE_THROWS_AS(ops::conv2d(Tensor<float>::zeros({4, 8, 8}), Tensor<float>::zeros({2, 4, 3, 3}), {}, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::conv2d(x, Tensor<float>::zeros({2, 3, 3, 3}), {}, ctx), biqa::Error);  // channels
  ops::Conv2dOptions g3;
  g3.groups = 3;
  REQUIRE_THROWS_AS(ops::conv2d(x, Tensor<float>::zeros({3, 1, 3, 3}), {}, ctx, g3), biqa::Error);  // 4 % 3
  REQUIRE_THROWS_AS(ops::conv2d(x, Tensor<float>::zeros({2, 4, 9, 9}), {}, ctx), biqa::Error);  // kernel too big
  REQUIRE_THROWS_AS(ops::conv2d(x, Tensor<float>::zeros({2, 4, 3, 3}), Tensor<float>::zeros({3}), ctx), biqa::Error);
  ops::Conv2dOptions s0;
  s0.stride = {0, 1};
  REQUIRE_THROWS_AS(ops::conv2d(x, Tensor<float>::zeros({2, 4, 3, 3}), {}, ctx, s0), biqa::Error);
  REQUIRE_THROWS_AS(ops::fold_batchnorm(Tensor<float>::zeros({2, 4, 3, 3}), {}, {}, {}, Tensor<float>::zeros({3}),
                                        Tensor<float>::zeros({2})),
                    biqa::Error);
}

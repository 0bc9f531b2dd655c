#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "biqa/nn/conv_transpose2d.hpp"
#include "biqa/ops/cpu/conv_transpose2d.hpp"
#include "support/nn_fixtures.hpp"
#include "support/op_cases.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;
namespace nn = biqa::nn;

TEST_CASE("conv_transpose2d: stride, padding, output_padding, dilation, groups match PyTorch",
          "[ops][conv_transpose2d]") {
  biqa::test::OpFixture f("conv_transpose2d");
  REQUIRE(f.cases().size() >= 7);
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const ops::ConvTranspose2dOptions opt = biqa::test::conv_transpose_options(c);
      const Tensor<float> out = ops::conv_transpose2d(f.get(c, "x"), f.get(c, "weight"), f.optional(c, "bias"), ctx, opt);
      biqa::test::check_parity("conv_transpose2d/" + c["name"].as_string() + "/threads=" + std::to_string(threads),
                               out, f.get(c, "out"));
    }
  }
}

TEST_CASE("conv_transpose2d: many output-channel blocks equal direct scattering", "[ops][conv_transpose2d]") {
  // 64 output channels × 16 taps × 40·36 inputs: more than one block of output channels per image.
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  const int n = 1, ci = 3, h = 40, w = 36, co = 64, k = 4, s = 4;
  Tensor<float> x({n, ci, h, w}), wt({ci, co, k, k}), b({co});
  for (auto* t : {&x, &wt, &b})
    for (std::int64_t i = 0; i < t->numel(); ++i) t->data()[i] = nd(rng);
  Tensor<float> ref = Tensor<float>::zeros({n, co, h * s, w * s});
  for (int o = 0; o < co; ++o)
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < w; ++xx)
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            double acc = 0.0;
            for (int c = 0; c < ci; ++c) acc += double(x(0, c, y, xx)) * wt(c, o, ky, kx);
            ref(0, o, y * s + ky, xx * s + kx) = static_cast<float>(acc + b(o));
          }
  ops::ConvTranspose2dOptions opt;
  opt.stride = {s, s};
  for (int threads : {1, 2}) {
    Context ctx(threads);
    biqa::test::check_parity("conv_transpose2d/blocks/threads=" + std::to_string(threads),
                             ops::conv_transpose2d(x, wt, b, ctx, opt), ref, 1e-5);
  }
}

TEST_CASE("conv_transpose2d rejects bad shapes and options", "[ops][conv_transpose2d]") {
  Context ctx;
  const Tensor<float> x = Tensor<float>::zeros({1, 4, 5, 5});
  REQUIRE_THROWS_AS(ops::conv_transpose2d(Tensor<float>::zeros({4, 5, 5}), Tensor<float>::zeros({4, 2, 2, 2}), {}, ctx),
                    biqa::Error);
  REQUIRE_THROWS_WITH(ops::conv_transpose2d(x, Tensor<float>::zeros({3, 2, 2, 2}), {}, ctx),
                      Catch::Contains("do not match"));  // weight's first axis is the input channels
  REQUIRE_THROWS_AS(ops::conv_transpose2d(x, Tensor<float>::zeros({4, 2, 2, 2}), Tensor<float>::zeros({3}), ctx),
                    biqa::Error);  // bias of 3 for 2 outputs
  ops::ConvTranspose2dOptions bad;
  bad.output_padding = {1, 0};  // not smaller than stride 1 or dilation 1
  REQUIRE_THROWS_WITH(ops::conv_transpose2d(x, Tensor<float>::zeros({4, 2, 2, 2}), {}, ctx, bad),
                      Catch::Contains("output_padding"));
  ops::ConvTranspose2dOptions g3;
  g3.groups = 3;  // 4 % 3
  REQUIRE_THROWS_AS(ops::conv_transpose2d(x, Tensor<float>::zeros({4, 1, 2, 2}), {}, ctx, g3), biqa::Error);
  ops::ConvTranspose2dOptions crop;
  crop.padding = {4, 4};  // (5-1)·1 − 8 + 1 + 1 < 1
  REQUIRE_THROWS_AS(ops::conv_transpose2d(x, Tensor<float>::zeros({4, 2, 2, 2}), {}, ctx, crop), biqa::Error);
}


TEST_CASE("nn::ConvTranspose2d loads torch.nn.ConvTranspose2d's state_dict and matches it",
          "[nn][conv_transpose2d]") {
  for (const char* name : {"conv_transpose2d", "conv_transpose2d_groups_nobias"}) {
    biqa::test::LayerFixture f(name);
    nn::ConvTranspose2d layer = biqa::test::deconv_from(f.config());
    layer.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    Context ctx(2);
    biqa::test::check_parity(std::string("nn/") + name, layer.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::ConvTranspose2d names a missing or mis-shaped weight", "[nn][conv_transpose2d]") {
  biqa::test::LayerFixture f("conv_transpose2d", "bias");
  nn::ConvTranspose2d layer = biqa::test::deconv_from(f.config());
  layer.load(f.root());
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("bias [4]"));

  biqa::test::LayerFixture g("conv_transpose2d");
  nn::ConvTranspose2d::Config cfg;
  cfg.in_channels = 6, cfg.out_channels = 5, cfg.kernel_size = {2, 2}, cfg.stride = {2, 2};
  nn::ConvTranspose2d wrong(cfg);  // the file's weight is [6, 4, 2, 2]
  wrong.load(g.root());
  g.io("input"), g.io("output");
  REQUIRE_THROWS_WITH(g.store().finish(), Catch::Contains("weight: file has [6, 4, 2, 2], expected [6, 5, 2, 2]"));
  REQUIRE_THROWS_AS(nn::ConvTranspose2d({4, 6, {3, 3}, {1, 1}, {0, 0}, {0, 0}, {1, 1}, 4}), biqa::Error);  // 6 % 4
}

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "biqa/ops/cpu/conv2d.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
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

namespace {
Tensor<float> random_tensor(const biqa::Shape& shape, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = nd(rng);
  return t;
}

/// The convolution by its definition, summed in double: the reference for geometries that the
/// PyTorch fixture does not cover.
Tensor<float> direct_conv(const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b,
                          const ops::Conv2dOptions& o) {
  const std::int64_t n = x.size(0), h = x.size(2), wd = x.size(3), co = w.size(0), cg = w.size(1);
  const std::int64_t kh = w.size(2), kw = w.size(3), og = co / o.groups;
  const std::int64_t oh = ops::conv_output_size(h, kh, o.stride[0], o.padding[0], o.dilation[0]);
  const std::int64_t ow = ops::conv_output_size(wd, kw, o.stride[1], o.padding[1], o.dilation[1]);
  Tensor<float> out({n, co, oh, ow});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t oc = 0; oc < co; ++oc)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t xx = 0; xx < ow; ++xx) {
          double acc = b.defined() ? b(oc) : 0.0;
          for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t ky = 0; ky < kh; ++ky)
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t iy = y * o.stride[0] - o.padding[0] + ky * o.dilation[0];
                const std::int64_t ix = xx * o.stride[1] - o.padding[1] + kx * o.dilation[1];
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                  acc += double(x(i, (oc / og) * cg + c, iy, ix)) * w(oc, c, ky, kx);
              }
          out(i, oc, y, xx) = static_cast<float>(acc);
        }
  return out;
}
}  // namespace

TEST_CASE("conv2d: im2col in column blocks equals direct summation", "[ops][conv2d]") {
  // Each geometry reaches a different part of the packed im2col: strides, dilation, padding wider
  // than the kernel reaches (whole output rows and columns of zeros), a 1x1 stride-2 shortcut, a
  // 7x7 stem, asymmetric kernels, and column blocks that start in the middle of an output row
  // (70x70 positions with a 27-row im2col; 460 channels give 126-column blocks on a 12-wide output).
  struct Geometry {
    const char* name;
    std::int64_t n, c, h, w, o, kh, kw;
    ops::Conv2dOptions opt;
  };
  const std::vector<Geometry> cases = {
      {"3x3_pad1_blocks", 1, 3, 70, 70, 4, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
      {"3x3_stride2", 2, 5, 15, 13, 7, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 1}},
      {"3x3_dilation2_pad2", 1, 4, 11, 9, 6, 3, 3, {{1, 1}, {2, 2}, {2, 2}, 1}},
      {"3x3_pad3", 1, 2, 6, 7, 3, 3, 3, {{1, 1}, {3, 3}, {1, 1}, 1}},
      {"1x1_stride2", 1, 8, 9, 10, 16, 1, 1, {{2, 2}, {0, 0}, {1, 1}, 1}},
      {"7x7_stride2_pad3", 1, 3, 23, 21, 8, 7, 7, {{2, 2}, {3, 3}, {1, 1}, 1}},
      {"3x1_stride1x2", 1, 3, 10, 17, 5, 3, 1, {{1, 2}, {1, 0}, {1, 1}, 1}},
      {"1x5_dilation1x3", 1, 3, 8, 20, 5, 1, 5, {{1, 1}, {0, 4}, {1, 3}, 1}},
      {"3x3_groups2", 1, 6, 9, 9, 4, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 2}},
      {"3x3_460ch_midrow_blocks", 1, 460, 12, 12, 13, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
  };
  std::mt19937 rng(11);
  for (const auto& g : cases) {
    const Tensor<float> x = random_tensor({g.n, g.c, g.h, g.w}, rng);
    const Tensor<float> w = random_tensor({g.o, g.c / g.opt.groups, g.kh, g.kw}, rng);
    const Tensor<float> b = random_tensor({g.o}, rng);
    const Tensor<float> ref = direct_conv(x, w, b, g.opt);
    for (int threads : {1, 3}) {
      Context ctx(threads);
      biqa::test::check_parity(std::string("conv2d/") + g.name + "/threads=" + std::to_string(threads),
                               ops::conv2d(x, w, b, ctx, g.opt), ref);
    }
  }
}

TEST_CASE("conv2d: the fused epilogue equals the conv, the add and the activation run apart", "[ops][conv2d]") {
  // Same arithmetic in the same order, so the results are bit-identical (NaN and -0 included) for
  // the add and ReLU. GELU may take Eigen's scalar or packet path for an element depending on where
  // a row starts, so it gets a tolerance of a few ulp.
  std::mt19937 rng(5);
  struct Geometry {
    const char* name;
    std::int64_t c, o, kh;
    ops::Conv2dOptions opt;
  };
  for (const Geometry& g : {Geometry{"3x3", 6, 10, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
                            Geometry{"1x1", 6, 10, 1, {}},
                            Geometry{"depthwise", 6, 6, 3, {{1, 1}, {1, 1}, {1, 1}, 6}}}) {
    Tensor<float> x = random_tensor({2, g.c, 9, 11}, rng);
    x(1, 2, 4, 5) = std::numeric_limits<float>::quiet_NaN();
    const Tensor<float> w = random_tensor({g.o, g.c / g.opt.groups, g.kh, g.kh}, rng);
    const Tensor<float> b = random_tensor({g.o}, rng);
    const Tensor<float> shortcut = random_tensor({2, g.o, 9, 11}, rng);
    for (int threads : {1, 2}) {
      Context ctx(threads);
      for (auto act : {ops::Activation::identity, ops::Activation::relu, ops::Activation::gelu}) {
        for (bool with_residual : {false, true}) {
          Tensor<float> expected = ops::conv2d(x, w, b, ctx, g.opt);
          if (with_residual) ops::add_inplace(expected, shortcut, ctx);
          ops::activate_inplace(expected, act, ctx);
          const Tensor<float> fused =
              ops::conv2d(x, w, b, ctx, g.opt, {with_residual ? shortcut : Tensor<float>(), act});
          INFO(g.name << " " << ops::activation_name(act) << " residual=" << with_residual << " threads=" << threads);
          REQUIRE(fused.shape() == expected.shape());
          int differ = 0;
          for (std::int64_t i = 0; i < fused.numel(); ++i) {
            const float u = fused.data()[i], v = expected.data()[i];
            const bool same = act == ops::Activation::gelu ? std::fabs(u - v) <= 1e-6f * std::max(1.0f, std::fabs(v))
                                                           : std::memcmp(&u, &v, sizeof u) == 0;
            if (std::isnan(u) != std::isnan(v) || (!std::isnan(u) && !same)) ++differ;
          }
          CHECK(differ == 0);
        }
      }
    }
  }
  Context ctx;
  REQUIRE_THROWS_AS(ops::conv2d(random_tensor({1, 2, 5, 5}, rng), random_tensor({3, 2, 3, 3}, rng), {}, ctx, {},
                                {Tensor<float>::zeros({1, 3, 5, 5})}),
                    biqa::Error);  // the residual must have the output's shape ([1, 3, 3, 3])
}

TEST_CASE("conv2d: a weight packed beforehand gives the same output, bit for bit, and unpacks exactly",
          "[ops][conv2d]") {
  std::mt19937 rng(23);
  struct Geometry {
    const char* name;
    std::int64_t c, o, k;
    ops::Conv2dOptions opt;
  };
  for (const Geometry& g : {Geometry{"3x3", 5, 13, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
                            Geometry{"1x1", 8, 7, 1, {}},
                            Geometry{"3x3_groups2", 6, 14, 3, {{2, 2}, {1, 1}, {1, 1}, 2}},
                            Geometry{"depthwise", 4, 8, 3, {{1, 1}, {1, 1}, {1, 1}, 4}}}) {
    const Tensor<float> x = random_tensor({2, g.c, 10, 9}, rng);
    const Tensor<float> w = random_tensor({g.o, g.c / g.opt.groups, g.k, g.k}, rng);
    const Tensor<float> b = random_tensor({g.o}, rng);
    const ops::PackedConv2dWeight packed(w, g.opt.groups);
    INFO(g.name);
    const Tensor<float> unpacked = packed.unpack();
    CHECK(std::equal(w.data(), w.data() + w.numel(), unpacked.data()));
    for (int threads : {1, 2}) {
      Context ctx(threads);
      const Tensor<float> a = ops::conv2d(x, w, b, ctx, g.opt, {{}, ops::Activation::relu});
      const Tensor<float> p = ops::conv2d(x, packed, b, ctx, g.opt, {{}, ops::Activation::relu});
      CHECK(std::equal(a.data(), a.data() + a.numel(), p.data()));
    }
  }
  Context ctx;
  const Tensor<float> x = random_tensor({1, 4, 6, 6}, rng);
  const ops::PackedConv2dWeight two_groups(random_tensor({6, 2, 3, 3}, rng), 2);
  REQUIRE_THROWS_AS(ops::conv2d(x, two_groups, {}, ctx), biqa::Error);  // packed for groups=2, called with 1
  REQUIRE_THROWS_AS(ops::conv2d(x, ops::PackedConv2dWeight(), {}, ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::PackedConv2dWeight(random_tensor({5, 2, 3, 3}, rng), 2), biqa::Error);  // 5 % 2
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

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
#include "support/helpers.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;
using biqa::test::random_tensor;

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

TEST_CASE("conv2d: im2col_packed writes exactly the packed columns, any block, any geometry", "[ops][conv2d]") {
  // Packing only moves values, so the packed columns must equal a plain im2col bit for bit, for
  // blocks that start mid-row, end mid-sliver, read padding, run contiguously across output rows
  // (kw = 1, no padding: one run spans rows) or need gathers (strides, dilation, short rows).
  struct Geometry {
    const char* name;
    std::int64_t c, h, w, kh, kw, sh, sw, ph, pw, dh, dw;
  };
  const std::vector<Geometry> cases = {
      {"3x3_pad1_wide", 3, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1},
      {"3x3_stride2", 4, 15, 13, 3, 3, 2, 2, 1, 1, 1, 1},
      {"3x3_dilation2", 2, 11, 40, 3, 3, 1, 1, 2, 2, 2, 2},
      {"7x7_stride2_pad3", 3, 23, 45, 7, 7, 2, 2, 3, 3, 1, 1},
      {"1x1_stride2", 5, 9, 10, 1, 1, 2, 2, 0, 0, 1, 1},
      {"3x1_nopad_rows_run_on", 2, 12, 9, 3, 1, 1, 1, 0, 0, 1, 1},
      {"2x2_stride2_patches", 3, 16, 36, 2, 2, 2, 2, 0, 0, 1, 1},
      {"3x3_pad3_beyond_kernel", 2, 6, 7, 3, 3, 1, 1, 3, 3, 1, 1},
  };
  constexpr std::int64_t nr = ops::detail::packed::nr;
  std::mt19937 rng(5);
  ops::detail::Im2colScratch scratch;
  for (const auto& g : cases) {
    const std::int64_t oh = ops::conv_output_size(g.h, g.kh, g.sh, g.ph, g.dh);
    const std::int64_t ow = ops::conv_output_size(g.w, g.kw, g.sw, g.pw, g.dw);
    const ops::detail::ConvGeometry geo{g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, oh, ow};
    const Tensor<float> x = random_tensor({g.c, g.h, g.w}, rng);
    const std::int64_t kdim = g.c * g.kh * g.kw, plane = oh * ow;
    for (const auto& [c0, cols] : {std::pair<std::int64_t, std::int64_t>{0, plane}, {ow / 2 + 1, plane - ow / 2 - 1},
                                  {ow + 3, std::min<std::int64_t>(nr + 5, plane - ow - 3)}, {plane - 1, 1}}) {
      if (cols <= 0) continue;
      std::vector<float> col(static_cast<std::size_t>(ops::detail::packed::packed_b_size(kdim, cols)), -7.0f);
      ops::detail::im2col_packed(x.data(), g.c, geo, c0, cols, col.data(), scratch);
      std::int64_t wrong = 0;
      for (std::int64_t j = 0; j < (cols + nr - 1) / nr * nr; ++j)
        for (std::int64_t ci = 0; ci < g.c; ++ci)
          for (std::int64_t ky = 0; ky < g.kh; ++ky)
            for (std::int64_t kx = 0; kx < g.kw; ++kx) {
              const std::int64_t row = (ci * g.kh + ky) * g.kw + kx;
              float expected = 0.0f;
              if (j < cols) {
                const std::int64_t y = (c0 + j) / ow, xx = (c0 + j) % ow;
                const std::int64_t iy = y * g.sh - g.ph + ky * g.dh, ix = xx * g.sw - g.pw + kx * g.dw;
                if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) expected = x.data()[(ci * g.h + iy) * g.w + ix];
              }
              const float got = col[static_cast<std::size_t>((j / nr) * kdim * nr + row * nr + j % nr)];
              if (std::memcmp(&got, &expected, sizeof(float)) != 0) ++wrong;
            }
      INFO(g.name << " block [" << c0 << ", " << c0 + cols << ")");
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("conv2d: every work split covers the output once and gives the same bits on any thread count",
          "[ops][conv2d]") {
  constexpr std::int64_t nr = ops::detail::packed::nr, mr = ops::detail::packed::mr;
  for (std::int64_t threads = 1; threads <= 4; ++threads)
    for (const std::int64_t images : {1, 2, 8})
      for (const std::int64_t plane : {1, 7, 49, 196, 784, 3136, 12544})
        for (const std::int64_t rows : {3, 64, 100, 256, 2048})
          for (const std::int64_t kdim : {27, 576, 4608}) {
            const auto p = ops::detail::conv_partition(images, plane, rows, kdim, true, threads);
            INFO("threads " << threads << " images " << images << " plane " << plane << " rows " << rows << " kdim " << kdim);
            CHECK(p.chunk % nr == 0);
            CHECK(p.chunk * p.chunks >= plane);
            CHECK(p.chunk * (p.chunks - 1) < plane);  // no empty column block
            CHECK(p.rows_per_block % mr == 0);
            CHECK(p.rows_per_block * p.row_blocks >= rows);
            CHECK(p.chunk <= std::max<std::int64_t>(4096, nr) + nr);  // the im2col buffer stays bounded
          }
  // ResNet-50's layer shapes, shrunk in channels: the sums run in one order whatever the split.
  struct Shape4 {
    std::int64_t c, o, h, k, s;
  };
  std::mt19937 rng(3);
  for (const Shape4 g : {Shape4{16, 64, 14, 3, 1}, Shape4{32, 128, 7, 3, 1}, Shape4{64, 256, 7, 1, 1},
                         Shape4{8, 24, 28, 3, 2}, Shape4{3, 16, 40, 7, 2}}) {
    const Tensor<float> x = random_tensor({1, g.c, g.h, g.h}, rng);
    const Tensor<float> w = random_tensor({g.o, g.c, g.k, g.k}, rng), b = random_tensor({g.o}, rng);
    ops::Conv2dOptions opt;
    opt.stride = {g.s, g.s}, opt.padding = {g.k / 2, g.k / 2};
    Context one(1);
    const Tensor<float> ref = ops::conv2d(x, w, b, one, opt);
    for (int threads : {2, 3, 4}) {
      Context ctx(threads);
      const Tensor<float> out = ops::conv2d(x, w, b, ctx, opt);
      INFO(g.c << "->" << g.o << " at " << g.h << ", " << g.k << "x" << g.k << ", threads " << threads);
      CHECK(std::memcmp(out.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(ref.numel())) == 0);
    }
  }
}

TEST_CASE("conv2d: the fused epilogue equals the conv, the add and the activation run apart", "[ops][conv2d]") {
  // Same arithmetic in the same order, so the results are bit-identical (NaN and -0 included) for
  // the add and ReLU. GELU may take Eigen's scalar or packet path for an element depending on where
  // a row starts, so it gets a tolerance of a few ulp. The epilogue runs per finished panel of the
  // product: the deep and wide geometries span several depth blocks (KC), row panels (MC) and
  // column panels (NC), so a panel finished twice or missed would show.
  std::mt19937 rng(5);
  struct Geometry {
    const char* name;
    std::int64_t c, o, kh, h, w;
    ops::Conv2dOptions opt;
  };
  namespace packed = ops::detail::packed;
  for (const Geometry& g : {Geometry{"3x3", 6, 10, 3, 9, 11, {{1, 1}, {1, 1}, {1, 1}, 1}},
                            Geometry{"1x1", 6, 10, 1, 9, 11, {}},
                            Geometry{"depthwise", 6, 6, 3, 9, 11, {{1, 1}, {1, 1}, {1, 1}, 6}},
                            Geometry{"3x3 deep", packed::kc_block / 9 + 8, packed::mc_block + 8, 3, 9, 11,
                                     {{1, 1}, {1, 1}, {1, 1}, 1}},
                            Geometry{"1x1 wide", 3, packed::mc_block + 8, 1, 5, packed::nc_block / 5 + 40, {}}}) {
    Tensor<float> x = random_tensor({2, g.c, g.h, g.w}, rng);
    x(1, 2, 4, 3) = std::numeric_limits<float>::quiet_NaN();
    const Tensor<float> w = random_tensor({g.o, g.c / g.opt.groups, g.kh, g.kh}, rng);
    const Tensor<float> b = random_tensor({g.o}, rng);
    const Tensor<float> shortcut = random_tensor({2, g.o, g.h, g.w}, rng);
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

// The device ops whose threads run a body of include/biqa/ops/cuda/bodies/ (activations, pooling,
// interpolation, transposed convolution, BatchNorm) against the same body run here on the host;
// tests/ops/cuda/test_bodies.cpp checks those bodies against PyTorch's fixtures, so together they
// tie the device to PyTorch. GroupNorm (a block reduction, no body) against a double-precision
// reference. Tolerances: max pooling exact; the rest 1e-5 of the largest reference value (nvcc
// fuses multiply-adds and CUDA's expf/erff/tanhf differ from the host's by a few ulp).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/ops/cuda.cuh"
#include "ops/cuda/support.hpp"

using biqa::Cuda;
using biqa::Shape;
using biqa::Tensor;
namespace cuda = biqa::cuda;
namespace bodies = biqa::cuda::bodies;
namespace ops = biqa::ops;

using biqa::test::error_against;
using biqa::test::random_tensor;

namespace {

const float* data_or_null(const Tensor<float>& t) { return t.defined() ? t.data() : nullptr; }

}  // namespace

TEST_CASE("cuda: every activation gives what its body gives on the host", "[cuda]") {
  Tensor<float> x = random_tensor({3, 1000}, 40, 4.0f);
  x.data()[0] = std::numeric_limits<float>::quiet_NaN();  // relu keeps a NaN, as PyTorch does
  x.data()[1] = 50.0f, x.data()[2] = -50.0f;
  const auto dx = cuda::to_device(x);
  for (auto act : {ops::Activation::identity, ops::Activation::relu, ops::Activation::gelu, ops::Activation::gelu_tanh,
                   ops::Activation::quick_gelu, ops::Activation::silu, ops::Activation::sigmoid, ops::Activation::selu,
                   ops::Activation::tanh}) {
    Tensor<float> ref(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i) ref.data()[i] = bodies::activation_value(act, x.data()[i]);
    INFO(ops::activation_name(act));
    CHECK(error_against(cuda::to_host(cuda::activate(dx, act)), ref) <= 1e-5);
  }
  CHECK(std::isnan(cuda::to_host(cuda::relu(dx)).data()[0]));
}

TEST_CASE("cuda: max, average and adaptive pooling give what their bodies give", "[cuda]") {
  Tensor<float> x = random_tensor({2, 3, 17, 23}, 41);
  x.data()[40] = std::numeric_limits<float>::quiet_NaN();
  const auto dx = cuda::to_device(x);
  struct Case { std::int64_t k, s, p, d; bool ceil, include_pad; std::int64_t divisor; };
  for (const Case c : {Case{3, 2, 1, 1, false, true, 0}, Case{3, 2, 1, 2, true, true, 0}, Case{2, 2, 0, 1, true, false, 0},
                       Case{5, 3, 2, 1, true, false, 0}, Case{3, 1, 1, 1, false, true, 7}}) {
    ops::Pool2dOptions opt;
    opt.kernel = {c.k, c.k}, opt.stride = {c.s, c.s}, opt.padding = {c.p, c.p}, opt.dilation = {c.d, c.d};
    opt.ceil_mode = c.ceil, opt.count_include_pad = c.include_pad;
    if (c.divisor) opt.divisor_override = c.divisor;
    for (const bool max : {true, false}) {
      const auto g = ops::detail::pool_geometry("pool", x.shape(), opt, max);
      Tensor<float> ref({g.n, g.c, g.oh, g.ow});
      for (std::int64_t p = 0; p < g.n * g.c; ++p)
        for (std::int64_t y = 0; y < g.oh; ++y)
          for (std::int64_t xx = 0; xx < g.ow; ++xx)
            ref.data()[(p * g.oh + y) * g.ow + xx] =
                max ? bodies::max_pool_value(x.data() + p * g.h * g.w, g, y, xx)
                    : bodies::avg_pool_value(x.data() + p * g.h * g.w, g, y, xx, c.include_pad, c.divisor);
      const Tensor<float> out = cuda::to_host(max ? cuda::max_pool2d(dx, opt) : cuda::avg_pool2d(dx, opt));
      INFO((max ? "max" : "avg") << " kernel " << c.k << " stride " << c.s << " padding " << c.p);
      CHECK(error_against(out, ref) <= (max ? 0.0 : 1e-5));
    }
  }
  for (const auto [oh, ow] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {7, 7}, {5, 9}, {17, 23}}) {
    Tensor<float> ref({2, 3, oh, ow});
    for (std::int64_t p = 0; p < 6; ++p)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t xx = 0; xx < ow; ++xx)
          ref.data()[(p * oh + y) * ow + xx] = bodies::adaptive_avg_pool_value(x.data() + p * 17 * 23, 17, 23, oh, ow, y, xx);
    CHECK(error_against(cuda::to_host(cuda::adaptive_avg_pool2d(dx, oh, ow)), ref) <= 1e-5);
  }
  ops::Pool2dOptions too_much_padding;
  too_much_padding.kernel = {2, 2}, too_much_padding.padding = {2, 2};
  CHECK_THROWS_AS(cuda::max_pool2d(dx, too_much_padding), biqa::Error);
}

TEST_CASE("cuda: interpolation in every mode gives what the body gives with the shared tables", "[cuda]") {
  const Tensor<float> x = random_tensor({1, 2, 19, 26}, 42);
  const auto dx = cuda::to_device(x);
  struct Case { ops::InterpolateMode mode; bool align, antialias; std::int64_t oh, ow; double scale; };
  using M = ops::InterpolateMode;
  for (const Case c : {Case{M::nearest, false, false, 37, 11, 0}, Case{M::nearest_exact, false, false, 8, 52, 0},
                       Case{M::bilinear, false, false, 40, 13, 0}, Case{M::bilinear, true, false, 7, 61, 0},
                       Case{M::bicubic, false, false, 31, 31, 0}, Case{M::bicubic, true, false, 5, 9, 0},
                       Case{M::bilinear, false, true, 6, 9, 0}, Case{M::bicubic, false, true, 10, 4, 0},
                       Case{M::bilinear, false, false, 0, 0, 1.7}}) {
    const ops::InterpolateOptions opt{c.mode, c.align, c.antialias};
    const std::optional<double> scale = c.scale > 0 ? std::optional<double>(c.scale) : std::nullopt;
    const std::int64_t oh = scale ? std::int64_t(std::floor(19 * c.scale)) : c.oh;
    const std::int64_t ow = scale ? std::int64_t(std::floor(26 * c.scale)) : c.ow;
    const auto th = ops::detail::resample_table(19, oh, opt, scale), tw = ops::detail::resample_table(26, ow, opt, scale);
    const bodies::AxisTaps ah{th.index.data(), th.weight.data(), th.taps}, aw{tw.index.data(), tw.weight.data(), tw.taps};
    Tensor<float> ref({1, 2, oh, ow});
    for (std::int64_t p = 0; p < 2; ++p)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t xx = 0; xx < ow; ++xx)
          ref.data()[(p * oh + y) * ow + xx] = bodies::resample_value(x.data() + p * 19 * 26, 26, ah, aw, y, xx);
    const Tensor<float> out = cuda::to_host(scale ? cuda::interpolate_by_scale(dx, c.scale, c.scale, opt)
                                                  : cuda::interpolate(dx, oh, ow, opt));
    INFO("mode " << int(c.mode) << " align_corners " << c.align << " antialias " << c.antialias);
    CHECK(error_against(out, ref) <= 1e-5);
  }
  CHECK_THROWS_AS(cuda::interpolate(dx, 0, 4), biqa::Error);
}

TEST_CASE("cuda: conv_transpose2d gives what the gathering body gives", "[cuda]") {
  struct Case { std::int64_t n, cin, h, w, og, k, s, p, op, d, g; bool bias; };
  for (const Case t : {Case{1, 4, 5, 6, 3, 4, 4, 0, 0, 1, 1, true}, Case{2, 6, 7, 5, 2, 3, 2, 1, 1, 1, 2, false},
                       Case{1, 3, 4, 4, 5, 2, 2, 0, 0, 1, 1, true}, Case{1, 4, 6, 6, 2, 3, 1, 2, 0, 2, 2, true}}) {
    const Tensor<float> x = random_tensor({t.n, t.cin, t.h, t.w}, 43), wt = random_tensor({t.cin, t.og, t.k, t.k}, 44),
                        b = t.bias ? random_tensor({t.og * t.g}, 45) : Tensor<float>();
    ops::ConvTranspose2dOptions opt;
    opt.stride = {t.s, t.s}, opt.padding = {t.p, t.p}, opt.output_padding = {t.op, t.op}, opt.dilation = {t.d, t.d};
    opt.groups = t.g;
    const auto g = ops::detail::conv_transpose_geometry("conv_transpose2d", x.shape(), wt.shape(), nullptr, opt);
    const std::int64_t oh = g.oh, ow = g.ow, c_out = t.og * t.g;
    Tensor<float> ref({t.n, c_out, oh, ow});
    for (std::int64_t n = 0; n < t.n; ++n)
      for (std::int64_t oc = 0; oc < c_out; ++oc)
        for (std::int64_t y = 0; y < oh; ++y)
          for (std::int64_t xx = 0; xx < ow; ++xx)
            ref.data()[((n * c_out + oc) * oh + y) * ow + xx] =
                bodies::conv_transpose_value(x.data() + n * t.cin * t.h * t.w, wt.data(), data_or_null(b), g, oc, y, xx);
    const Tensor<float, Cuda> bias = t.bias ? cuda::to_device(b) : Tensor<float, Cuda>();
    const Tensor<float> out = cuda::to_host(cuda::conv_transpose2d(cuda::to_device(x), cuda::to_device(wt), bias, opt));
    CHECK(error_against(out, ref) <= 1e-5);
  }
  CHECK_THROWS_AS(cuda::conv_transpose2d(cuda::to_device(random_tensor({1, 4, 3, 3}, 46)),
                                         cuda::to_device(random_tensor({3, 2, 2, 2}, 47)), Tensor<float, Cuda>()),
                  biqa::Error);
}

TEST_CASE("cuda: GroupNorm equals its double-precision definition; BatchNorm gives what its body gives", "[cuda]") {
  for (const auto& [shape, groups] : {std::pair<Shape, std::int64_t>{Shape{2, 8, 5, 7}, 4}, {Shape{1, 6, 33}, 1},
                                      {Shape{3, 32, 16, 16}, 32}, {Shape{1, 4}, 2}}) {
    const std::int64_t n = shape[0], c = shape[1], spatial = Shape(shape).numel() / (n * c), per = c / groups;
    const Tensor<float> x = random_tensor(shape, 48, 3.0f), w = random_tensor({c}, 49), b = random_tensor({c}, 50);
    Tensor<float> ref(shape);
    for (std::int64_t row = 0; row < n * groups; ++row) {
      const float* p = x.data() + row * per * spatial;
      double mean = 0.0, var = 0.0;
      for (std::int64_t i = 0; i < per * spatial; ++i) mean += p[i];
      mean /= double(per * spatial);
      for (std::int64_t i = 0; i < per * spatial; ++i) var += (p[i] - mean) * (p[i] - mean);
      var /= double(per * spatial);
      for (std::int64_t i = 0; i < per * spatial; ++i) {
        const std::int64_t ch = (row % groups) * per + i / spatial;
        ref.data()[row * per * spatial + i] = float((p[i] - mean) / std::sqrt(var + 1e-5) * w.data()[ch] + b.data()[ch]);
      }
    }
    const Tensor<float> out =
        cuda::to_host(cuda::group_norm(cuda::to_device(x), groups, cuda::to_device(w), cuda::to_device(b)));
    CHECK(error_against(out, ref) <= 1e-5);
  }
  const Tensor<float> x = random_tensor({2, 5, 9, 4}, 51), mean = random_tensor({5}, 52), w = random_tensor({5}, 53);
  Tensor<float> var = random_tensor({5}, 54);
  for (std::int64_t i = 0; i < 5; ++i) var.data()[i] = std::abs(var.data()[i]) + 0.1f;
  Tensor<float> ref(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    float scale, shift;
    bodies::batch_norm_scale_shift(mean.data(), var.data(), w.data(), nullptr, 1e-5f, (i / 36) % 5, scale, shift);
    ref.data()[i] = x.data()[i] * scale + shift;
  }
  const Tensor<float> out = cuda::to_host(cuda::batch_norm(cuda::to_device(x), cuda::to_device(mean), cuda::to_device(var),
                                                           cuda::to_device(w), Tensor<float, Cuda>()));
  CHECK(error_against(out, ref) <= 1e-5);
  CHECK_THROWS_AS(cuda::group_norm(cuda::to_device(x), 2, Tensor<float, Cuda>(), Tensor<float, Cuda>()), biqa::Error);
}

// The CUDA kernels' per-element bodies (include/biqa/ops/cuda/bodies/), run here on the host over
// the PyTorch fixtures of the CPU op tests: the arithmetic the GPU runs is checked on every
// machine, with or without a GPU. tests/ops/cuda/test_cuda_ops.cu then checks that the device
// gives what these bodies give. Tolerance: check_parity's 1e-4 of the largest reference value.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cuda/bodies/activation.hpp"
#include "biqa/ops/cuda/bodies/conv.hpp"
#include "biqa/ops/cuda/bodies/norm.hpp"
#include "biqa/ops/cuda/bodies/pool.hpp"
#include "biqa/ops/cuda/bodies/resample.hpp"
#include "biqa/ops/options.hpp"
#include "biqa/ops/resample_table.hpp"
#include "support/op_cases.hpp"
#include "support/parity.hpp"

using biqa::Shape;
using biqa::Tensor;
namespace ops = biqa::ops;
namespace bodies = biqa::cuda::bodies;

namespace {
const float* data_or_null(const Tensor<float>& t) { return t.defined() ? t.data() : nullptr; }
}  // namespace

TEST_CASE("cuda bodies: activation_value and prelu_value match PyTorch and the CPU's scalar definitions",
          "[ops][cuda]") {
  biqa::test::OpFixture f("activation");
  int checked = 0;
  for (const auto& c : f.cases()) {
    if (c["op"].as_string() != "activation") continue;
    const auto act = ops::parse_activation(c["act"].as_string());
    const Tensor<float> x = f.get(c, "x");
    Tensor<float> out(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i) out.data()[i] = bodies::activation_value(act, x.data()[i]);
    biqa::test::check_parity("cuda bodies/activation/" + c["name"].as_string(), out, f.get(c, "out"));
    ++checked;
  }
  CHECK(checked > 0);
  int prelus = 0;
  for (const auto& c : f.cases()) {
    if (c["op"].as_string() != "prelu") continue;
    const Tensor<float> x = f.get(c, "x"), w = f.get(c, "weight");
    const std::int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
    std::int64_t inner = 1;
    for (int i = 2; i < x.dim(); ++i) inner *= x.size(i);
    Tensor<float> out(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i)
      out.data()[i] = bodies::prelu_value(x.data()[i], w.data()[w.numel() == 1 ? 0 : (i / inner) % channels]);
    biqa::test::check_parity("cuda bodies/prelu/" + c["name"].as_string(), out, f.get(c, "out"));
    ++prelus;
  }
  CHECK(prelus > 0);
  // Every kind, including those without a fixture, against ops::scalar (same libm: within an ulp or
  // two); NaN and the infinities give what they give there.
  const float inf = std::numeric_limits<float>::infinity();
  for (auto act : {ops::Activation::identity, ops::Activation::relu, ops::Activation::gelu, ops::Activation::gelu_tanh,
                   ops::Activation::quick_gelu, ops::Activation::silu, ops::Activation::sigmoid, ops::Activation::selu,
                   ops::Activation::tanh}) {
    for (float x : {-30.0f, -4.5f, -1.0f, -0.3f, 0.0f, 1e-4f, 0.7f, 2.0f, 9.0f, 40.0f, -inf, inf}) {
      const float want = ops::scalar::apply(act, x), got = bodies::activation_value(act, x);
      INFO(ops::activation_name(act) << "(" << x << ") = " << got << ", CPU " << want);
      if (std::isnan(want)) CHECK(std::isnan(got));  // e.g. -inf · sigmoid(-inf) = -inf · 0
      else if (std::isinf(want) || want == 0.0f) CHECK(got == want);
      else CHECK(std::abs(got - want) <= 4e-7f * std::abs(want));
    }
    CHECK(std::isnan(bodies::activation_value(act, std::numeric_limits<float>::quiet_NaN())));
  }
}

TEST_CASE("cuda bodies: max, average and adaptive pooling match PyTorch", "[ops][cuda]") {
  biqa::test::OpFixture f("pool");
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string(), op = c["op"].as_string();
    const Tensor<float> x = f.get(c, "x");
    const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    Tensor<float> out;
    if (op == "adaptive_avg") {
      const auto s = biqa::test::pair_of(c["output"]);
      out = Tensor<float>({x.size(0), x.size(1), s[0], s[1]});
      for (std::int64_t p = 0; p < planes; ++p)
        for (std::int64_t y = 0; y < s[0]; ++y)
          for (std::int64_t xx = 0; xx < s[1]; ++xx)
            out.data()[(p * s[0] + y) * s[1] + xx] = bodies::adaptive_avg_pool_value(x.data() + p * h * w, h, w, s[0], s[1], y, xx);
    } else {
      const ops::Pool2dOptions opt = biqa::test::pool_options(c);
      const auto g = ops::detail::pool_geometry("pool", x.shape(), opt, op == "max");
      out = Tensor<float>({g.n, g.c, g.oh, g.ow});
      for (std::int64_t p = 0; p < planes; ++p)
        for (std::int64_t y = 0; y < g.oh; ++y)
          for (std::int64_t xx = 0; xx < g.ow; ++xx)
            out.data()[(p * g.oh + y) * g.ow + xx] =
                op == "max" ? bodies::max_pool_value(x.data() + p * h * w, g, y, xx)
                            : bodies::avg_pool_value(x.data() + p * h * w, g, y, xx, opt.count_include_pad,
                                                     opt.divisor_override.value_or(0));
    }
    biqa::test::check_parity("cuda bodies/pool/" + name, out, f.get(c, "out"));
  }
  // A NaN in a max window wins, and only there.
  Tensor<float> x = Tensor<float>::zeros({1, 1, 4, 4});
  x.data()[5] = std::numeric_limits<float>::quiet_NaN();
  ops::Pool2dOptions opt;
  opt.kernel = {2, 2};
  const auto g = ops::detail::pool_geometry("pool", x.shape(), opt, true);
  CHECK(std::isnan(bodies::max_pool_value(x.data(), g, 0, 0)));
  CHECK(bodies::max_pool_value(x.data(), g, 1, 1) == 0.0f);
}

TEST_CASE("cuda bodies: interpolation from the shared tap tables matches PyTorch", "[ops][cuda]") {
  biqa::test::OpFixture f("interpolate");
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    const ops::InterpolateOptions opt = biqa::test::interpolate_options(c);
    const Tensor<float> x = f.get(c, "x");
    const std::int64_t h = x.size(2), w = x.size(3);
    std::int64_t oh, ow;
    std::optional<double> sh, sw;
    if (c.find("scale")) {
      const auto& s = c["scale"].as_array();
      sh = s[0].as_number(), sw = s[1].as_number();
      oh = static_cast<std::int64_t>(std::floor(static_cast<double>(h) * *sh));
      ow = static_cast<std::int64_t>(std::floor(static_cast<double>(w) * *sw));
    } else {
      const auto s = biqa::test::pair_of(c["size"]);
      oh = s[0], ow = s[1];
    }
    const auto th = ops::detail::resample_table(h, oh, opt, sh), tw = ops::detail::resample_table(w, ow, opt, sw);
    const bodies::AxisTaps ah{th.index.data(), th.weight.data(), th.taps}, aw{tw.index.data(), tw.weight.data(), tw.taps};
    Tensor<float> out({x.size(0), x.size(1), oh, ow});
    for (std::int64_t p = 0; p < x.size(0) * x.size(1); ++p)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t xx = 0; xx < ow; ++xx)
          out.data()[(p * oh + y) * ow + xx] = bodies::resample_value(x.data() + p * h * w, w, ah, aw, y, xx);
    biqa::test::check_parity("cuda bodies/interpolate/" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("cuda bodies: im2col columns times the weight match PyTorch's conv2d", "[ops][cuda]") {
  biqa::test::OpFixture f("conv2d");
  int checked = 0;
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    if (name == "conv_bn") continue;  // BatchNorm folding is the CPU's load-time step, not a kernel
    const Tensor<float> x = f.get(c, "x"), weight = f.get(c, "weight"), bias = f.optional(c, "bias");
    const auto stride = biqa::test::pair_of(c["stride"]), pad = biqa::test::pair_of(c["padding"]),
               dil = biqa::test::pair_of(c["dilation"]);
    const std::int64_t groups = c["groups"].as_int();
    const std::int64_t nb = x.size(0), ch = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t o = weight.size(0), cg = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    const std::int64_t oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0] + 1;
    const std::int64_t ow = (w + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1] + 1;
    const bodies::ConvGeometry g{cg, h, w, kh, kw, stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], oh, ow};
    const std::int64_t og = o / groups, kdim = cg * kh * kw, plane = oh * ow;
    Tensor<float> out({nb, o, oh, ow});
    std::vector<float> col(static_cast<std::size_t>(kdim * plane));
    for (std::int64_t n = 0; n < nb; ++n)
      for (std::int64_t gr = 0; gr < groups; ++gr) {
        for (std::int64_t i = 0; i < kdim * plane; ++i)
          col[static_cast<std::size_t>(i)] = bodies::im2col_value(x.data() + (n * ch + gr * cg) * h * w, g, i);
        for (std::int64_t oc = 0; oc < og; ++oc)
          for (std::int64_t p = 0; p < plane; ++p) {
            double acc = bias.defined() ? bias.data()[gr * og + oc] : 0.0;
            for (std::int64_t k = 0; k < kdim; ++k)
              acc += double(weight.data()[(gr * og + oc) * kdim + k]) * col[static_cast<std::size_t>(k * plane + p)];
            out.data()[(n * o + gr * og + oc) * plane + p] = static_cast<float>(acc);
          }
      }
    biqa::test::check_parity("cuda bodies/conv2d/" + name, out, f.get(c, "out"));
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("cuda bodies: the gathering transposed convolution matches PyTorch", "[ops][cuda]") {
  biqa::test::OpFixture f("conv_transpose2d");
  int checked = 0;
  for (const auto& c : f.cases()) {
    const Tensor<float> x = f.get(c, "x"), weight = f.get(c, "weight"), bias = f.optional(c, "bias");
    const ops::ConvTranspose2dOptions opt = biqa::test::conv_transpose_options(c);
    const auto g = ops::detail::conv_transpose_geometry("conv_transpose2d", x.shape(), weight.shape(), nullptr, opt);
    const std::int64_t c_in = g.c_in, h = g.h, w = g.w, oh = g.oh, ow = g.ow, c_out = g.out_per_group * g.groups;
    Tensor<float> out({x.size(0), c_out, oh, ow});
    for (std::int64_t n = 0; n < x.size(0); ++n)
      for (std::int64_t oc = 0; oc < c_out; ++oc)
        for (std::int64_t y = 0; y < oh; ++y)
          for (std::int64_t xx = 0; xx < ow; ++xx)
            out.data()[((n * c_out + oc) * oh + y) * ow + xx] = bodies::conv_transpose_value(
                x.data() + n * c_in * h * w, weight.data(), data_or_null(bias), g, oc, y, xx);
    biqa::test::check_parity("cuda bodies/conv_transpose2d/" + c["name"].as_string(), out, f.get(c, "out"));
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("cuda bodies: BatchNorm's per-channel scale and shift match PyTorch's eval BatchNorm", "[ops][cuda]") {
  biqa::test::OpFixture f("norm");
  int checked = 0;
  for (const auto& c : f.cases()) {
    if (c["op"].as_string() != "batch_norm") continue;
    const Tensor<float> x = f.get(c, "x"), w = f.optional(c, "weight"), b = f.optional(c, "bias");
    const Tensor<float> mean = f.get(c, "running_mean"), var = f.get(c, "running_var");
    const float eps = static_cast<float>(c["eps"].as_number());
    const std::int64_t channels = x.size(1), spatial = x.numel() / (x.size(0) * channels);
    Tensor<float> out(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      float scale, shift;
      bodies::batch_norm_scale_shift(mean.data(), var.data(), data_or_null(w), data_or_null(b), eps,
                                     (i / spatial) % channels, scale, shift);
      out.data()[i] = x.data()[i] * scale + shift;
    }
    biqa::test::check_parity("cuda bodies/batch_norm/" + c["name"].as_string(), out, f.get(c, "out"));
    ++checked;
  }
  CHECK(checked > 0);
}

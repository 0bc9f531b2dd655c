// The CUDA kernels' per-element bodies (include/biqa/ops/cuda/bodies/), run here on the host over
// the PyTorch fixtures of the CPU op tests: the arithmetic the GPU runs is checked on every
// machine, with or without a GPU. tests/ops/cuda/test_cuda_ops.cu then checks that the device
// gives what these bodies give. Tolerance: check_parity's 1e-4 of the largest reference value.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/attention.hpp"
#include "biqa/ops/cuda/bodies/activation.hpp"
#include "biqa/ops/cuda/bodies/attention.hpp"
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

// How the fused attention kernel splits a row's keys: chunks of groups·tile keys, share g of each
// chunk (tile keys) folded into state g, the states merged into the first one after the last chunk.
struct AttentionSchedule {
  int groups, tile;
};

// Attention as the fused kernel computes it, one row at a time through the bodies. q, k, v
// contiguous [B, H, N, D]; mask undefined or broadcast to [B, H, N, M] (any strides).
Tensor<float> fused_attention_on_host(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v,
                                      const Tensor<float>& mask, bool causal, float scale, AttentionSchedule sched) {
  const std::int64_t b = q.size(0), h = q.size(1), n = q.size(2), d = q.size(3), m = k.size(2), dv = v.size(3);
  Tensor<float> out({b, h, n, dv});
  std::vector<float> acc(static_cast<std::size_t>(sched.groups * dv));
  std::vector<bodies::OnlineSoftmax> st(static_cast<std::size_t>(sched.groups));
  for (std::int64_t bi = 0; bi < b; ++bi)
    for (std::int64_t hi = 0; hi < h; ++hi) {
      const std::int64_t bh = bi * h + hi;
      for (std::int64_t i = 0; i < n; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        std::fill(st.begin(), st.end(), bodies::OnlineSoftmax{});
        const float* mrow =
            mask.defined() ? mask.data() + bi * mask.stride(0) + hi * mask.stride(1) + i * mask.stride(2) : nullptr;
        const std::int64_t ms = mask.defined() ? mask.stride(3) : 0;
        for (std::int64_t j0 = 0; j0 < m; j0 += sched.groups * sched.tile)
          for (int g = 0; g < sched.groups; ++g) {
            const std::int64_t first = j0 + g * sched.tile;
            std::int64_t valid = std::min<std::int64_t>(sched.tile, m - first);
            if (causal) valid = std::min(valid, i - first + 1);
            if (valid <= 0) continue;
            bodies::attend_tile(st[g], acc.data() + g * dv, q.data() + (bh * n + i) * d, 1,
                                k.data() + (bh * m + first) * d, d, v.data() + (bh * m + first) * dv, dv, int(d),
                                int(dv), sched.tile, int(valid), scale, mrow ? mrow + first * ms : nullptr, ms);
          }
        for (int g = 1; g < sched.groups; ++g)
          bodies::online_softmax_merge(st[0], acc.data(), st[g], acc.data() + g * dv, int(dv));
        bodies::online_softmax_finish(st[0], acc.data(), int(dv), int(dv), out.data() + (bh * n + i) * dv);
      }
    }
  return out;
}

// The schedules of the kernel's instantiations (4 × 16 keys for head dims up to 64, 4 × 4 up to
// 128), single tiles of 32, and tiles of 2 (so that the few keys of most fixture cases are still
// folded in several steps).
constexpr AttentionSchedule attention_schedules[] = {{1, 32}, {4, 16}, {4, 4}, {1, 2}, {3, 1}};
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

TEST_CASE("cuda bodies: the direct depthwise sum matches PyTorch's depthwise conv2d", "[ops][cuda]") {
  biqa::test::OpFixture f("conv2d");
  int checked = 0;
  for (const auto& c : f.cases()) {
    if (c["name"].as_string() == "conv_bn") continue;  // BatchNorm folding: the CPU's load-time step
    const Tensor<float> x = f.get(c, "x"), weight = f.get(c, "weight"), bias = f.optional(c, "bias");
    const std::int64_t groups = c["groups"].as_int();
    if (weight.size(1) != 1 || groups == 1) continue;  // the kernel's case: one input channel per group
    const auto stride = biqa::test::pair_of(c["stride"]), pad = biqa::test::pair_of(c["padding"]),
               dil = biqa::test::pair_of(c["dilation"]);
    const std::int64_t nb = x.size(0), ch = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t o = weight.size(0), kh = weight.size(2), kw = weight.size(3);
    const std::int64_t oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0] + 1;
    const std::int64_t ow = (w + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1] + 1;
    const bodies::ConvGeometry g{ch, h, w, kh, kw, stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], oh, ow};
    Tensor<float> out({nb, o, oh, ow});
    for (std::int64_t n = 0; n < nb; ++n)
      for (std::int64_t oc = 0; oc < o; ++oc)
        for (std::int64_t y = 0; y < oh; ++y)
          for (std::int64_t xx = 0; xx < ow; ++xx)
            out.data()[((n * o + oc) * oh + y) * ow + xx] = bodies::depthwise_conv_value(
                x.data() + n * ch * h * w, weight.data(), data_or_null(bias), g, o / ch, oc, y, xx);
    biqa::test::check_parity("cuda bodies/depthwise/" + c["name"].as_string(), out, f.get(c, "out"));
    ++checked;
  }
  CHECK(checked >= 2);  // "depthwise" (two outputs per channel, stride 2) and "depthwise_dilated"
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

TEST_CASE("cuda bodies: online-softmax attention over key tiles matches PyTorch", "[ops][cuda]") {
  biqa::test::OpFixture f("attention");
  int checked = 0;
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    const Tensor<float> q = f.get(c, "q").contiguous(), k = f.get(c, "k").contiguous(), v = f.get(c, "v").contiguous();
    const bool causal = c.find("causal") && c["causal"].as_bool();
    const float scale = c.find("scale") ? static_cast<float>(c["scale"].as_number())
                                        : 1.0f / std::sqrt(static_cast<float>(q.size(3)));
    Tensor<float> mask;
    if (f.has(c, "mask")) mask = f.get(c, "mask");
    if (f.has(c, "allowed")) {
      const Tensor<float> a = f.get(c, "allowed");
      Tensor<std::uint8_t> allowed(a.shape());
      for (std::int64_t i = 0; i < a.numel(); ++i) allowed.data()[i] = a.data()[i] != 0.0f;
      mask = ops::additive_mask_from_bool(allowed);
    }
    if (mask.defined()) mask = ops::broadcast_to(mask, Shape{q.size(0), q.size(1), q.size(2), k.size(2)});
    for (const AttentionSchedule s : attention_schedules)
      biqa::test::check_parity("cuda bodies/attention/" + name + "/" + std::to_string(s.groups) + "x" +
                                   std::to_string(s.tile),
                               fused_attention_on_host(q, k, v, mask, causal, scale, s), f.get(c, "out"));
    ++checked;
  }
  CHECK(checked >= 10);
}

TEST_CASE("cuda bodies: online-softmax attention gives the CPU op's results for fully and partly masked rows",
          "[ops][cuda]") {
  biqa::Context ctx;
  const float inf = std::numeric_limits<float>::infinity();
  const std::int64_t n = 6, m = 40;
  const Tensor<float> q = biqa::test::random_tensor({1, 2, n, 16}, 71);
  const Tensor<float> k = biqa::test::random_tensor({1, 2, m, 16}, 72);
  const Tensor<float> v = biqa::test::random_tensor({1, 2, m, 24}, 73);
  Tensor<float> mask = biqa::test::random_tensor({n, m}, 74);
  for (std::int64_t j = 0; j < m; ++j) {
    if (j == 0) mask.data()[j] = -inf;              // row 0: key 0 blocked, its only key when causal
    mask.data()[1 * m + j] = -inf;                  // row 1: every key blocked
    if (j < 37) mask.data()[2 * m + j] = -inf;      // row 2: only the last keys, after whole blocked tiles
    if (j % 7 != 3) mask.data()[3 * m + j] = -inf;  // row 3: a key here and there
  }
  for (const bool causal : {false, true}) {
    ops::AttentionOptions opt;
    opt.mask = mask;
    opt.causal = causal;
    opt.scale = 0.25f;
    const Tensor<float> want = ops::scaled_dot_product_attention(q, k, v, ctx, opt);
    const Tensor<float> bmask = ops::broadcast_to(mask, Shape{1, 2, n, m});
    for (const AttentionSchedule s : attention_schedules) {
      const Tensor<float> got = fused_attention_on_host(q, k, v, bmask, causal, 0.25f, s);
      const std::string label = std::string("cuda bodies/attention/masked_rows/") + (causal ? "causal/" : "") +
                                std::to_string(s.groups) + "x" + std::to_string(s.tile);
      biqa::test::check_parity(label, got, want);  // NaN where the CPU op has NaN, and only there
      for (std::int64_t hd = 0; hd < 2; ++hd)
        for (std::int64_t i = 0; i < n; ++i) {
          const bool blocked = i == 1 || (causal && (i == 0 || i == 2));
          INFO(label << ": head " << hd << ", row " << i);
          CHECK(std::isnan(got.data()[(hd * n + i) * 24]) == blocked);
        }
    }
  }
}

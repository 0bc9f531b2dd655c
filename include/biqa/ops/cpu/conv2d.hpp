#pragma once
/// @file
/// 2-d convolution (NCHW, PyTorch's cross-correlation) with stride, zero padding, dilation and
/// groups: im2col (written in the GEMM kernel's packed layout) + GEMM in column blocks, 1×1
/// convolutions straight as a GEMM, depthwise ones as a direct loop. fold_batchnorm merges an eval-mode BatchNorm into the convolution before it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"

namespace biqa::ops {

struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};    ///< (h, w)
  std::array<std::int64_t, 2> padding{0, 0};   ///< zeros on both sides
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

/// PyTorch's output extent: floor((in + 2·pad − dilation·(kernel − 1) − 1) / stride) + 1.
inline std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                     std::int64_t pad, std::int64_t dilation) {
  const std::int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

/// x [N, C, H, W], weight [O, C / groups, KH, KW], bias [O] (optional: an undefined tensor)
/// → [N, O, OH, OW].
inline Tensor<float> conv2d(const Tensor<float>& x_in, const Tensor<float>& weight,
                            const Tensor<float>& bias, Context& ctx, const Conv2dOptions& opt = {}) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument, "conv2d needs input [N, C, H, W], got ",
             x_in.shape().to_string());
  BIQA_CHECK(weight.dim() == 4, ErrorCode::invalid_argument,
             "conv2d needs weight [O, C/groups, KH, KW], got ", weight.shape().to_string());
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [dh, dw] = opt.dilation;
  const std::int64_t groups = opt.groups;
  BIQA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0 && groups > 0,
             ErrorCode::invalid_argument, "conv2d: stride and dilation must be positive, padding "
             "non-negative, groups positive");
  const std::int64_t n_batch = x_in.size(0), c_in = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  const std::int64_t c_out = weight.size(0), cg = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  BIQA_CHECK(cg * groups == c_in && c_out % groups == 0, ErrorCode::invalid_argument,
             "conv2d: input ", x_in.shape().to_string(), " and weight ", weight.shape().to_string(),
             " do not match with groups=", groups, " (expected ", c_in, " = ", cg, " × groups)");
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out), ErrorCode::invalid_argument,
             "conv2d: bias ", bias.shape().to_string(), " for ", c_out, " output channels");
  const std::int64_t oh = conv_output_size(h, kh, sh, ph, dh), ow = conv_output_size(w, kw, sw, pw, dw);
  BIQA_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument, "conv2d: input ", x_in.shape().to_string(),
             " is smaller than the (dilated, padded) kernel ", kh, "x", kw);

  const Tensor<float> x = x_in.contiguous();
  const Tensor<float> wt = weight.contiguous();
  const Tensor<float> b = bias.defined() ? bias.contiguous() : bias;
  Tensor<float> out({n_batch, c_out, oh, ow});
  const std::int64_t og = c_out / groups, plane = oh * ow, in_plane = h * w;
  const float* xd = x.data();
  const float* wd = wt.data();
  const float* bd = b.defined() ? b.data() : nullptr;
  float* od = out.data();
  if (out.numel() == 0) return out;

  if (cg == 1 && groups == c_in) {
    // Depthwise: each output channel reads one input channel; a GEMM per channel would be tiny.
    parallel_for(ctx, n_batch * c_out, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const std::int64_t n = p / c_out, o = p % c_out, ci = o / og;
        const float* src = xd + (n * c_in + ci) * in_plane;
        const float* k = wd + o * kh * kw;
        float* dst = od + p * plane;
        const float b0 = bd ? bd[o] : 0.0f;
        for (std::int64_t y = 0; y < oh; ++y) {
          for (std::int64_t xx = 0; xx < ow; ++xx) {
            float acc = b0;
            for (std::int64_t ky = 0; ky < kh; ++ky) {
              const std::int64_t iy = y * sh - ph + ky * dh;
              if (iy < 0 || iy >= h) continue;
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t ix = xx * sw - pw + kx * dw;
                if (ix >= 0 && ix < w) acc += src[iy * w + ix] * k[ky * kw + kx];
              }
            }
            dst[y * ow + xx] = acc;
          }
        }
      }
    });
    return out;
  }

  const std::int64_t kdim = cg * kh * kw;
  const bool pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
  // Column blocks bound the im2col buffer (about 1 MB per thread) and give every thread work even
  // for a single image.
  const std::int64_t chunk =
      std::clamp<std::int64_t>((std::int64_t(1) << 18) / std::max<std::int64_t>(kdim, 1), 64, 4096);
  const std::int64_t chunks = (plane + chunk - 1) / chunk;
  // Late layers of a CNN have few positions (7×7) and many channels: with one column chunk per
  // image, every thread but one would idle. Output channels are then split too (each row block
  // redoes its chunk's im2col, which is cheap next to its GEMM).
  const std::int64_t threads = ctx.resolved_threads();
  const std::int64_t mr = detail::packed::mr;
  const std::int64_t max_row_blocks = std::max<std::int64_t>(1, og / (4 * mr));
  const std::int64_t base_tasks = n_batch * groups * chunks;
  const std::int64_t row_blocks =
      threads == 1 ? 1 : std::clamp<std::int64_t>((2 * threads + base_tasks - 1) / base_tasks, 1, max_row_blocks);
  const std::int64_t rows_per_block = ((og + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
  const std::int64_t tasks = base_tasks * row_blocks;

  parallel_for(ctx, tasks, 1, [&](std::int64_t t0, std::int64_t t1) {
    constexpr std::int64_t nr = detail::packed::nr;
    std::vector<float> col(pointwise ? 0 : static_cast<std::size_t>(detail::packed::packed_b_size(kdim, std::min(chunk, plane))));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t rb = t % row_blocks, rest = t / row_blocks;
      const std::int64_t n = rest / (groups * chunks), g = (rest / chunks) % groups, c = rest % chunks;
      const std::int64_t c0 = c * chunk, c1 = std::min(plane, c0 + chunk), cols = c1 - c0;
      const std::int64_t r0 = rb * rows_per_block, r1 = std::min(og, r0 + rows_per_block);
      if (r0 >= r1) continue;
      const float* src = xd + (n * c_in + g * cg) * in_plane;
      float* dst = od + (n * c_out + g * og) * plane;
      const detail::GemmOperand a{wd + g * og * kdim, og, kdim, kdim, false};
      const detail::GemmBias gb{nullptr, bd ? bd + g * og : nullptr};
      if (pointwise) {
        const detail::GemmOperand bm{src, kdim, plane, plane, false};
        detail::gemm_block(a, bm, dst, plane, r0, r1, c0, c1, gb);
        continue;
      }
      // im2col for output positions [c0, c1) (row (ci, ky, kx), column = position), written
      // straight in the GEMM kernel's packed layout: NR-column slivers of [kdim][NR].
      for (std::int64_t ci = 0; ci < cg; ++ci) {
        for (std::int64_t ky = 0; ky < kh; ++ky) {
          for (std::int64_t kx = 0; kx < kw; ++kx) {
            float* sliver = col.data() + ((ci * kh + ky) * kw + kx) * nr;
            const float* chan = src + ci * in_plane;
            std::int64_t y = c0 / ow, xx = c0 % ow, lane = 0;
            for (std::int64_t j = 0; j < cols; ++j) {
              const std::int64_t iy = y * sh - ph + ky * dh, ix = xx * sw - pw + kx * dw;
              sliver[lane] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? chan[iy * w + ix] : 0.0f;
              if (++lane == nr) {
                lane = 0;
                sliver += kdim * nr;
              }
              if (++xx == ow) {
                xx = 0;
                ++y;
              }
            }
            for (; lane != 0 && lane < nr; ++lane) sliver[lane] = 0.0f;
          }
        }
      }
      detail::packed_gemm(r1 - r0, cols, {a.data + r0 * kdim, kdim, 1}, detail::packed::PackedB{col.data(), kdim, cols}, 0,
                          dst + r0 * plane + c0, plane);
      detail::add_bias(dst, plane, r0, r1, c0, c1, gb);
    }
  });
  return out;
}

/// Convolution parameters with an eval-mode BatchNorm after it folded in.
struct FoldedConv2d {
  Tensor<float> weight;  ///< [O, C/groups, KH, KW]
  Tensor<float> bias;    ///< [O]
};

/// conv → BatchNorm(eval) as one conv: scale = bn_weight / sqrt(running_var + eps),
/// weight' = weight · scale (per output channel), bias' = (bias − running_mean) · scale + bn_bias.
/// conv_bias, bn_weight and bn_bias may be undefined (no conv bias; affine=False).
inline FoldedConv2d fold_batchnorm(const Tensor<float>& conv_weight, const Tensor<float>& conv_bias,
                                   const Tensor<float>& bn_weight, const Tensor<float>& bn_bias,
                                   const Tensor<float>& running_mean, const Tensor<float>& running_var,
                                   float eps = 1e-5f) {
  BIQA_CHECK(conv_weight.dim() >= 1, ErrorCode::invalid_argument, "fold_batchnorm: conv weight is a scalar");
  const std::int64_t c = conv_weight.size(0);
  auto check = [&](const Tensor<float>& t, const char* what, bool required) {
    BIQA_CHECK(t.defined() || !required, ErrorCode::invalid_argument, "fold_batchnorm: ", what, " missing");
    BIQA_CHECK(!t.defined() || t.numel() == c, ErrorCode::invalid_argument, "fold_batchnorm: ", what,
               " has shape ", t.shape().to_string(), ", the convolution has ", c, " output channels");
  };
  check(conv_bias, "conv bias", false);
  check(bn_weight, "BatchNorm weight", false);
  check(bn_bias, "BatchNorm bias", false);
  check(running_mean, "running_mean", true);
  check(running_var, "running_var", true);
  const auto cb = conv_bias.defined() ? conv_bias.contiguous() : conv_bias;
  const auto bw = bn_weight.defined() ? bn_weight.contiguous() : bn_weight;
  const auto bb = bn_bias.defined() ? bn_bias.contiguous() : bn_bias;
  const auto mean = running_mean.contiguous(), var = running_var.contiguous();
  FoldedConv2d f{conv_weight.clone(), Tensor<float>({c})};
  const std::int64_t per = c ? conv_weight.numel() / c : 0;
  for (std::int64_t o = 0; o < c; ++o) {
    const double scale = (bw.defined() ? double(bw.data()[o]) : 1.0) / std::sqrt(double(var.data()[o]) + eps);
    float* wo = f.weight.data() + o * per;
    for (std::int64_t i = 0; i < per; ++i) wo[i] = static_cast<float>(wo[i] * scale);
    const double b0 = cb.defined() ? cb.data()[o] : 0.0;
    f.bias.data()[o] = static_cast<float>((b0 - mean.data()[o]) * scale + (bb.defined() ? bb.data()[o] : 0.0));
  }
  return f;
}

}  // namespace biqa::ops

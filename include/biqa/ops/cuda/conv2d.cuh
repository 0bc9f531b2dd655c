#pragma once
/// @file
/// 2-d convolution on the device (NCHW, PyTorch's cross-correlation, stride, zero padding,
/// dilation, groups): an im2col kernel writes each (image, group)'s [C/groups·KH·KW, OH·OW]
/// column matrix (bodies::im2col_value) and cuBLAS multiplies the group's weight with it.
/// Two shortcuts: a pointwise (1x1, stride 1, unpadded, ungrouped) convolution multiplies the
/// batch's maps as they lie in one strided product, and a depthwise one (one input channel per
/// group) sums its taps directly, a thread per output (bodies::depthwise_conv_value).

#include <array>
#include <cstdint>

#include "biqa/ops/cuda/bodies/activation.hpp"
#include "biqa/ops/cuda/bodies/conv.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/gemm.cuh"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/options.hpp"

namespace biqa::cuda {

using ops::Conv2dOptions;

namespace kernels {
static __global__ void im2col(const float* src, float* col, bodies::ConvGeometry g) {
  const std::int64_t n = g.c * g.kh * g.kw * g.oh * g.ow;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) col[i] = bodies::im2col_value(src, g, i);
}
/// out [N, O, P] = bias[o] everywhere.
static __global__ void fill_channels(const float* bias, float* out, std::int64_t n, std::int64_t channels, std::int64_t plane) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bias[(i / plane) % channels];
}
/// The depthwise convolution of a batch, a thread per output (x [N, C, H, W], out [N, O, OH, OW]).
static __global__ void depthwise_conv2d(const float* x, const float* weight, const float* bias, float* out,
                                        bodies::ConvGeometry g, std::int64_t multiplier, std::int64_t channels_out,
                                        std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t xx = i % g.ow, y = (i / g.ow) % g.oh, oc = (i / (g.ow * g.oh)) % channels_out,
                       image = i / (g.ow * g.oh * channels_out);
    out[i] = bodies::depthwise_conv_value(x + image * g.c * g.h * g.w, weight, bias, g, multiplier, oc, y, xx);
  }
}
/// out = activation(out + residual), residual optional (conv2d's epilogue, one pass).
static __global__ void residual_activation(float* out, const float* residual, ops::Activation act, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bodies::activation_value(act, residual ? out[i] + residual[i] : out[i]);
}
}  // namespace kernels

/// x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] (optional) → [N, O, OH, OW].
inline Tensor<float, Cuda> conv2d(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight,
                                  const Tensor<float, Cuda>& bias, const Conv2dOptions& opt = {},
                                  MatmulPrecision precision = MatmulPrecision::fp32) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() == 4 && weight.dim() == 4, ErrorCode::invalid_argument, "cuda::conv2d: input [N, C, H, W] and ",
             "weight [O, C/groups, KH, KW], got ", x.shape().to_string(), " and ", weight.shape().to_string());
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [dh, dw] = opt.dilation;
  const std::int64_t groups = opt.groups;
  BIQA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0 && groups > 0, ErrorCode::invalid_argument,
             "cuda::conv2d: stride and dilation must be positive, padding non-negative, groups positive");
  const std::int64_t nb = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t o = weight.size(0), cg = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  BIQA_CHECK(cg * groups == c && o % groups == 0, ErrorCode::invalid_argument, "cuda::conv2d: input ",
             x.shape().to_string(), " and weight ", weight.shape().to_string(), " do not match with groups=", groups);
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == o && bias.is_contiguous()),
             ErrorCode::invalid_argument, "cuda::conv2d: bias ", bias.shape().to_string(), " for ", o, " outputs");
  detail::require_contiguous(weight, "conv2d");
  const auto out_size = [](std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
    const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
    return span < 0 ? std::int64_t(0) : span / s + 1;
  };
  const std::int64_t oh = out_size(h, kh, sh, ph, dh), ow = out_size(w, kw, sw, pw, dw);
  BIQA_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument, "cuda::conv2d: input ", x.shape().to_string(),
             " is smaller than the (dilated, padded) kernel ", kh, "x", kw);
  const std::int64_t og = o / groups, kdim = cg * kh * kw, plane = oh * ow;
  BIQA_CHECK(plane <= 2147483647 && kdim <= 2147483647 && og <= 2147483647, ErrorCode::unsupported,
             "cuda::conv2d: sizes above 2^31");
  Tensor<float, Cuda> out({nb, o, oh, ow});
  if (out.numel() == 0) return out;
  if (cg == 1 && groups > 1) {
    const bodies::ConvGeometry geo{c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow};
    kernels::depthwise_conv2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(
        x.data(), weight.data(), detail::data_or_null(bias), out.data(), geo, og, o, out.numel());
    check_launch("conv2d (depthwise)");
    return out;
  }
  if (bias.defined()) {
    kernels::fill_channels<<<blocks_for(out.numel()), 256, 0, stream()>>>(bias.data(), out.data(), out.numel(), o, plane);
    check_launch("conv2d (bias)");
  }
  const float beta = bias.defined() ? 1.0f : 0.0f;
  if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && groups == 1) {
    // A pointwise convolution is a product with each image's [c, plane] map as it lies: the whole
    // batch in one strided product, the weight shared (stride 0).
    detail::gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_N, int(plane), int(o), int(c), 1.0f, x.data(), int(plane),
                                 c * plane, weight.data(), int(c), 0, beta, out.data(), int(plane), o * plane,
                                 int(nb), precision, "cublasGemmStridedBatchedEx (conv2d 1x1)");
    return out;
  }
  Tensor<float, Cuda> col({kdim, plane});
  const bodies::ConvGeometry geo{cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow};
  for (std::int64_t n = 0; n < nb; ++n)
    for (std::int64_t g = 0; g < groups; ++g) {
      kernels::im2col<<<blocks_for(kdim * plane), 256, 0, stream()>>>(x.data() + (n * c + g * cg) * h * w, col.data(), geo);
      check_launch("conv2d (im2col)");
      // Column-major: outᵀ [plane, og] = colᵀ · weightᵀ, both read as they lie.
      detail::gemm(CUBLAS_OP_N, CUBLAS_OP_N, int(plane), int(og), int(kdim), 1.0f, col.data(), int(plane),
                   weight.data() + g * og * kdim, int(kdim), beta, out.data() + (n * o + g * og) * plane, int(plane),
                   precision, "cublasGemmEx (conv2d)");
    }
  return out;
}

/// conv2d followed by its epilogue, as ops::conv2d with an ops::Conv2dEpilogue: activation(conv(x)
/// + bias + residual), the residual [N, O, OH, OW] optional. The residual add and the activation
/// are one pass over the output after the products.
inline Tensor<float, Cuda> conv2d(const Tensor<float, Cuda>& x, const Tensor<float, Cuda>& weight,
                                  const Tensor<float, Cuda>& bias, const Conv2dOptions& opt,
                                  const Tensor<float, Cuda>& residual_in, ops::Activation activation,
                                  MatmulPrecision precision = MatmulPrecision::fp32) {
  Tensor<float, Cuda> out = conv2d(x, weight, bias, opt, precision);
  if (!residual_in.defined() && activation == ops::Activation::identity) return out;
  BIQA_CHECK(!residual_in.defined() || residual_in.shape() == out.shape(), ErrorCode::invalid_argument,
             "cuda::conv2d: residual ", residual_in.shape().to_string(), " for an output of ", out.shape().to_string());
  const Tensor<float, Cuda> residual = residual_in.defined() ? contiguous(residual_in) : Tensor<float, Cuda>();
  if (out.numel() == 0) return out;
  kernels::residual_activation<<<blocks_for(out.numel()), 256, 0, stream()>>>(out.data(), detail::data_or_null(residual),
                                                                            activation, out.numel());
  check_launch("conv2d (epilogue)");
  return out;
}

}  // namespace biqa::cuda

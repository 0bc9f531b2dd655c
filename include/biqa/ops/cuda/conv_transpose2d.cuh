#pragma once
/// @file
/// 2-d transposed convolution on the device (NCHW; stride, padding, output_padding, dilation,
/// groups, bias), as ops::conv_transpose2d: one thread per output gathers the inputs whose taps
/// land on it (bodies::conv_transpose_value), so there are no atomic adds. The models use it for
/// small kernels (DPT's 4×4 and 2×2 upsampling), where this direct form is cheap.

#include <cstdint>

#include "biqa/ops/cuda/bodies/conv.hpp"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/options.hpp"

namespace biqa::cuda {

using ops::ConvTranspose2dOptions;

namespace kernels {
static __global__ void conv_transpose2d(const float* x, const float* weight, const float* bias, float* out,
                                        std::int64_t batch, bodies::ConvTransposeGeometry g) {
  const std::int64_t c_out = g.groups * g.out_per_group, plane = g.oh * g.ow, n = batch * c_out * plane;
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const std::int64_t img = i / (c_out * plane), oc = (i / plane) % c_out, yx = i % plane;
    out[i] = bodies::conv_transpose_value(x + img * g.c_in * g.h * g.w, weight, bias, g, oc, yx / g.ow, yx % g.ow);
  }
}
}  // namespace kernels

/// x [N, C_in, H, W], weight [C_in, C_out / groups, KH, KW], bias [C_out] (optional: undefined)
/// → [N, C_out, OH, OW].
inline Tensor<float, Cuda> conv_transpose2d(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight,
                                            const Tensor<float, Cuda>& bias, const ConvTranspose2dOptions& opt = {}) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  BIQA_CHECK(x.dim() == 4 && weight.dim() == 4, ErrorCode::invalid_argument,
             "cuda::conv_transpose2d: input [N, C, H, W] and weight [C_in, C_out/groups, KH, KW], got ",
             x.shape().to_string(), " and ", weight.shape().to_string());
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [oph, opw] = opt.output_padding;
  const auto [dh, dw] = opt.dilation;
  const std::int64_t groups = opt.groups;
  BIQA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0 && groups > 0 && oph >= 0 && opw >= 0,
             ErrorCode::invalid_argument, "cuda::conv_transpose2d: stride, dilation and groups must be positive, ",
             "padding and output_padding non-negative");
  BIQA_CHECK((oph < sh || oph < dh) && (opw < sw || opw < dw), ErrorCode::invalid_argument,
             "cuda::conv_transpose2d: output_padding (", oph, ", ", opw, ") must be smaller than stride or dilation");
  const std::int64_t c_in = x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t og = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  BIQA_CHECK(weight.size(0) == c_in && c_in % groups == 0, ErrorCode::invalid_argument, "cuda::conv_transpose2d: input ",
             x.shape().to_string(), " and weight ", weight.shape().to_string(), " do not match with groups=", groups);
  const std::int64_t c_out = og * groups;
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out && bias.is_contiguous()),
             ErrorCode::invalid_argument, "cuda::conv_transpose2d: bias ", bias.shape().to_string(), " for ", c_out,
             " output channels");
  const std::int64_t oh = ops::conv_transpose_output_size(h, kh, sh, ph, oph, dh);
  const std::int64_t ow = ops::conv_transpose_output_size(w, kw, sw, pw, opw, dw);
  BIQA_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument, "cuda::conv_transpose2d: input ", x.shape().to_string(),
             " gives an empty output (", oh, "x", ow, ") with padding (", ph, ", ", pw, ")");
  detail::require_contiguous(weight, "conv_transpose2d");
  Tensor<float, Cuda> out({x.size(0), c_out, oh, ow});
  if (out.numel() == 0) return out;
  const bodies::ConvTransposeGeometry g{c_in, h, w, groups, og, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow};
  kernels::conv_transpose2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(
      x.data(), weight.data(), bias.defined() ? bias.data() : nullptr, out.data(), x.size(0), g);
  check_launch("conv_transpose2d");
  return out;
}

}  // namespace biqa::cuda

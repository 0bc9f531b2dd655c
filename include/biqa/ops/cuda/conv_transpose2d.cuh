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
                                        ops::detail::ConvTransposeGeometry g) {
  const std::int64_t c_out = g.groups * g.out_per_group, plane = g.oh * g.ow, n = g.n * c_out * plane;
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
  const Shape bias_shape = bias.defined() ? bias.shape() : Shape{};
  const auto g = ops::detail::conv_transpose_geometry("cuda::conv_transpose2d", x.shape(), weight.shape(),
                                                      bias.defined() ? &bias_shape : nullptr, opt);
  BIQA_CHECK(!bias.defined() || bias.is_contiguous(), ErrorCode::invalid_argument,
             "cuda::conv_transpose2d: a contiguous bias");
  detail::require_contiguous(weight, "conv_transpose2d");
  Tensor<float, Cuda> out({g.n, g.groups * g.out_per_group, g.oh, g.ow});
  if (out.numel() == 0) return out;
  kernels::conv_transpose2d<<<blocks_for(out.numel()), 256, 0, stream()>>>(
      x.data(), weight.data(), detail::data_or_null(bias), out.data(), g);
  check_launch("conv_transpose2d");
  return out;
}

}  // namespace biqa::cuda

#pragma once
/// @file
/// One element of the convolutions' device paths. conv2d: one entry of the im2col matrix of one
/// image and group, [C/groups·KH·KW, OH·OW], which cuBLAS then multiplies by the weight.
/// Depthwise conv2d: one output directly from its taps.
/// conv_transpose2d: one output directly, gathering the inputs whose kernel taps land on it
/// (the scatter of ops/cpu/conv_transpose2d.hpp turned around, so no two threads write one output).

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::cuda::bodies {

/// Input [c, h, w] (one image, one group's channels), kernel, stride, padding, dilation, output.
struct ConvGeometry {
  std::int64_t c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

/// Entry i of the column matrix (row-major [c·kh·kw, oh·ow]) of the image at `src`.
BIQA_HOST_DEVICE inline float im2col_value(const float* src, const ConvGeometry& g, std::int64_t i) {
  const std::int64_t positions = g.oh * g.ow;
  const std::int64_t r = i / positions, p = i % positions;
  const std::int64_t ci = r / (g.kh * g.kw), ky = (r / g.kw) % g.kh, kx = r % g.kw;
  const std::int64_t iy = (p / g.ow) * g.sh - g.ph + ky * g.dh, ix = (p % g.ow) * g.sw - g.pw + kx * g.dw;
  return iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? src[(ci * g.h + iy) * g.w + ix] : 0.0f;
}

/// Output (oc, y, x) of a depthwise convolution (one input channel per group, `multiplier` outputs
/// per input channel: PyTorch's groups = C_in) of the image at `src` ([c, h, w]), weight
/// [c·multiplier, 1, kh, kw], `bias` may be null: the taps summed directly, in (ky, kx) order,
/// which beats an im2col matrix of one row per tap for a product this thin.
BIQA_HOST_DEVICE inline float depthwise_conv_value(const float* src, const float* weight, const float* bias,
                                                   const ConvGeometry& g, std::int64_t multiplier, std::int64_t oc,
                                                   std::int64_t y, std::int64_t x) {
  const float* plane = src + (oc / multiplier) * g.h * g.w;
  const float* taps = weight + oc * g.kh * g.kw;
  float acc = 0.0f;
  for (std::int64_t ky = 0; ky < g.kh; ++ky) {
    const std::int64_t iy = y * g.sh - g.ph + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (std::int64_t kx = 0; kx < g.kw; ++kx) {
      const std::int64_t ix = x * g.sw - g.pw + kx * g.dw;
      if (ix >= 0 && ix < g.w) acc += plane[iy * g.w + ix] * taps[ky * g.kw + kx];
    }
  }
  return bias ? acc + bias[oc] : acc;
}

/// Output (oc, y, x) of the image at `src` ([c_in, h, w]); `bias` may be null. The geometry is
/// ops::detail::conv_transpose_geometry's, shared with the CPU. Sums over the taps in (ky, kx)
/// order and the group's input channels within each tap, then adds the bias.
BIQA_HOST_DEVICE inline float conv_transpose_value(const float* src, const float* weight, const float* bias,
                                                   const ops::detail::ConvTransposeGeometry& g, std::int64_t oc,
                                                   std::int64_t y, std::int64_t x) {
  const std::int64_t cg = g.c_in / g.groups, group = oc / g.out_per_group, o = oc % g.out_per_group;
  float acc = 0.0f;
  for (std::int64_t ky = 0; ky < g.kh; ++ky) {
    const std::int64_t ty = y + g.ph - ky * g.dh;  // = iy·sh for the input row iy that lands here
    if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.h) continue;
    const std::int64_t iy = ty / g.sh;
    for (std::int64_t kx = 0; kx < g.kw; ++kx) {
      const std::int64_t tx = x + g.pw - kx * g.dw;
      if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.w) continue;
      const std::int64_t ix = tx / g.sw;
      for (std::int64_t ci = group * cg; ci < (group + 1) * cg; ++ci)
        acc += src[(ci * g.h + iy) * g.w + ix] * weight[((ci * g.out_per_group + o) * g.kh + ky) * g.kw + kx];
    }
  }
  return bias ? acc + bias[oc] : acc;
}

}  // namespace biqa::cuda::bodies

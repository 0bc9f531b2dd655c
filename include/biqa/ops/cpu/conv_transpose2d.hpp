#pragma once
/// @file
/// Transposed 2-d convolution (NCHW) with the semantics of torch.nn.functional.conv_transpose2d:
/// weight [C_in, C_out / groups, KH, KW], stride, zero padding (removed from the output),
/// output_padding (extra rows / columns at the bottom and right), dilation and groups. The output
/// extent is (in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
///
/// Computed as PyTorch's CPU kernel does: a GEMM Wᵀ·X gives every kernel tap's contribution
/// ("columns"), col2im adds them onto a zeroed output, and the bias comes last. The work is split
/// into (image, group, block of output channels) tasks, so no two threads write the same output.

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

/// x [N, C_in, H, W], weight [C_in, C_out / groups, KH, KW], bias [C_out] (optional: an undefined
/// tensor) → [N, C_out, OH, OW].
inline Tensor<float> conv_transpose2d(const Tensor<float>& x_in, const Tensor<float>& weight,
                                      const Tensor<float>& bias, Context& ctx,
                                      const ConvTranspose2dOptions& opt = {}) {
  const Shape bias_shape = bias.defined() ? bias.shape() : Shape{};
  const auto geo = detail::conv_transpose_geometry("conv_transpose2d", x_in.shape(), weight.shape(),
                                                   bias.defined() ? &bias_shape : nullptr, opt);
  const std::int64_t n_batch = geo.n, c_in = geo.c_in, h = geo.h, w = geo.w, groups = geo.groups;
  const std::int64_t og = geo.out_per_group, kh = geo.kh, kw = geo.kw, oh = geo.oh, ow = geo.ow;
  const std::int64_t sh = geo.sh, sw = geo.sw, ph = geo.ph, pw = geo.pw, dh = geo.dh, dw = geo.dw;
  const std::int64_t c_out = og * groups, cg = c_in / groups;

  Tensor<float> out = Tensor<float>::zeros({n_batch, c_out, oh, ow});
  if (out.numel() == 0) return out;
  const Tensor<float> x = x_in.contiguous();
  const Tensor<float> b = bias.defined() ? bias.contiguous() : bias;
  const std::int64_t kk = kh * kw, in_plane = h * w, plane = oh * ow;

  // Per group, Wᵀ as a row-major [og·KH·KW, cg] matrix (the GEMM wants its left operand row-major).
  const Tensor<float> wc = weight.contiguous();
  std::vector<float> wt(static_cast<std::size_t>(wc.numel()));
  for (std::int64_t g = 0; g < groups; ++g) {
    const float* src = wc.data() + g * cg * og * kk;
    float* dst = wt.data() + g * og * kk * cg;
    for (std::int64_t ci = 0; ci < cg; ++ci)
      for (std::int64_t r = 0; r < og * kk; ++r) dst[r * cg + ci] = src[ci * og * kk + r];
  }

  // Output channels per task: the columns buffer stays near 4 MB.
  const std::int64_t per_channel = kk * std::max<std::int64_t>(in_plane, 1);
  const std::int64_t block = std::clamp<std::int64_t>((std::int64_t(1) << 20) / per_channel, 1, og);
  const std::int64_t blocks = (og + block - 1) / block;
  const float* xd = x.data();
  const float* bd = b.defined() ? b.data() : nullptr;
  float* od = out.data();

  parallel_for(ctx, n_batch * groups * blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> col(static_cast<std::size_t>(std::min(block, og) * per_channel));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t n = t / (groups * blocks), g = (t / blocks) % groups, blk = t % blocks;
      const std::int64_t o0 = blk * block, o1 = std::min(og, o0 + block), rows = (o1 - o0) * kk;
      const detail::GemmOperand a{wt.data() + g * og * kk * cg + o0 * kk * cg, rows, cg, cg, false};
      const detail::GemmOperand bm{xd + (n * c_in + g * cg) * in_plane, cg, in_plane, in_plane, false};
      detail::gemm_block(a, bm, col.data(), in_plane, 0, rows, 0, in_plane);
      // col2im: row (o, ky, kx), column (iy, ix) lands on (iy·s − p + ky·d, ix·s − p + kx·d).
      for (std::int64_t o = o0; o < o1; ++o) {
        const std::int64_t oc = g * og + o;
        float* dst = od + (n * c_out + oc) * plane;
        for (std::int64_t ky = 0; ky < kh; ++ky) {
          for (std::int64_t kx = 0; kx < kw; ++kx) {
            const float* row = col.data() + (((o - o0) * kh + ky) * kw + kx) * in_plane;
            for (std::int64_t iy = 0; iy < h; ++iy) {
              const std::int64_t y = iy * sh - ph + ky * dh;
              if (y < 0 || y >= oh) continue;
              float* drow = dst + y * ow;
              const float* srow = row + iy * w;
              for (std::int64_t ix = 0; ix < w; ++ix) {
                const std::int64_t xx = ix * sw - pw + kx * dw;
                if (xx >= 0 && xx < ow) drow[xx] += srow[ix];
              }
            }
          }
        }
        if (bd)
          for (std::int64_t i = 0; i < plane; ++i) dst[i] += bd[oc];
      }
    }
  });
  return out;
}

}  // namespace biqa::ops

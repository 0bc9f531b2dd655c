#pragma once
/// @file
/// 2-d convolution (NCHW, PyTorch's cross-correlation) with stride, zero padding, dilation and
/// groups: im2col (written in the GEMM kernel's packed layout) + GEMM in column blocks, 1×1
/// convolutions straight as a GEMM, depthwise ones as a direct loop. An epilogue (bias, a residual,
/// an activation) runs on each block while it is still in cache. fold_batchnorm merges an
/// eval-mode BatchNorm into the convolution before it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

/// What conv2d does to its output before returning it, in the same pass that adds the bias:
/// out = activation(conv(x) + bias + residual). Fusing saves a ResNet block two full passes over
/// memory (the shortcut add and the ReLU); the arithmetic and its order are those of the separate ops.
/// A template over the device so that layers pass one epilogue on either (ops/cuda/dispatch.cuh).
template <typename Device = Cpu>
struct BasicConv2dEpilogue {
  Tensor<float, Device> residual;                ///< optional: [N, O, OH, OW], added after the bias
  Activation activation = Activation::identity;  ///< applied last
};
using Conv2dEpilogue = BasicConv2dEpilogue<Cpu>;

/// PyTorch's output extent: floor((in + 2·pad − dilation·(kernel − 1) − 1) / stride) + 1.
inline std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                     std::int64_t pad, std::int64_t dilation) {
  const std::int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

namespace detail {

/// One image's convolution geometry (input extent, kernel, stride, padding, dilation, output extent).
struct ConvGeometry {
  std::int64_t h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

/// im2col of output positions [c0, c0 + cols) over input channels [0, cg) of `src`, written
/// straight in the GEMM kernel's packed-B layout: row (ci, ky, kx) of column j goes to
/// col[(j / NR)·kdim·NR + row·NR + j % NR], and the last sliver's unused lanes are zero. Each
/// output row is split into the columns left of the image, inside it and right of it once, so the
/// inner loops are plain copies (contiguous ones at stride 1) with no bounds test per element.
inline void im2col_packed(const float* src, std::int64_t cg, const ConvGeometry& g, std::int64_t c0,
                          std::int64_t cols, float* col) {
  constexpr std::int64_t nr = packed::nr;
  const std::int64_t kdim = cg * g.kh * g.kw, in_plane = g.h * g.w, sliver = kdim * nr;
  for (std::int64_t ci = 0; ci < cg; ++ci) {
    const float* chan = src + ci * in_plane;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        float* base = col + ((ci * g.kh + ky) * g.kw + kx) * nr;
        // Output column xx reads input column xx·sw + off; those inside the image: [x_lo, x_hi).
        const std::int64_t off = kx * g.dw - g.pw;
        const std::int64_t x_lo = std::min(g.ow, off >= 0 ? 0 : (-off + g.sw - 1) / g.sw);
        const std::int64_t x_hi = std::max(x_lo, std::min(g.ow, g.w - 1 - off >= 0 ? (g.w - 1 - off) / g.sw + 1 : 0));
        std::int64_t j = 0, y = c0 / g.ow, xx = c0 % g.ow;
        while (j < cols) {
          const std::int64_t run_end = j + std::min(g.ow - xx, cols - j);  // to the end of output row y
          const std::int64_t iy = y * g.sh - g.ph + ky * g.dh;
          const float* in_row = (iy >= 0 && iy < g.h) ? chan + iy * g.w : nullptr;
          while (j < run_end) {  // stretches that stay inside one NR-column sliver
            const std::int64_t lane = j % nr, len = std::min(nr - lane, run_end - j);
            float* d = base + (j / nr) * sliver + lane;
            if (!in_row) {
              std::fill(d, d + len, 0.0f);
            } else {
              const std::int64_t a = std::clamp(x_lo - xx, std::int64_t(0), len);
              const std::int64_t b = std::clamp(x_hi - xx, a, len);
              std::fill(d, d + a, 0.0f);
              const float* s = in_row + (xx + a) * g.sw + off;
              if (g.sw == 1)
                for (std::int64_t t = a; t < b; ++t) d[t] = *s++;
              else
                for (std::int64_t t = a; t < b; ++t, s += g.sw) d[t] = *s;
              std::fill(d + b, d + len, 0.0f);
            }
            j += len;
            xx += len;
          }
          xx = 0;
          ++y;
        }
        if (cols % nr != 0) {
          float* d = base + (cols / nr) * sliver;
          std::fill(d + cols % nr, d + nr, 0.0f);
        }
      }
    }
  }
}

/// Scratch memory kept per thread from call to call: the packed weight (in the calling thread) and
/// the im2col block (in each worker). Fresh allocations of a few MB come back from the kernel as
/// new pages, zeroed and faulted in on every call: ResNet-50 lost about 6% to that.
inline packed::Buffers& conv_buffers() {
  thread_local packed::Buffers buffers;
  return buffers;
}

/// out[r0:r1, c0:c1] (row-major, leading dimension ld) = activation(out + bias[row] + residual), the
/// residual laid out like `out`; either may be null.
inline void conv_epilogue(float* out, const float* residual, std::int64_t ld, std::int64_t r0,
                          std::int64_t r1, std::int64_t c0, std::int64_t c1, const float* bias,
                          Activation activation) {
  for (std::int64_t i = r0; i < r1; ++i) {
    float* row = out + i * ld + c0;
    const std::int64_t n = c1 - c0;
    if (bias) {
      const float b = bias[i];
      for (std::int64_t j = 0; j < n; ++j) row[j] += b;
    }
    if (residual) {
      const float* r = residual + i * ld + c0;
      for (std::int64_t j = 0; j < n; ++j) row[j] += r[j];
    }
    activate_span(row, n, activation);
  }
}

}  // namespace detail

/// A convolution weight [O, C/groups, KH, KW] packed once for the GEMM kernel (each group's
/// [O/groups, C/groups·KH·KW] matrix in MR-row slivers), so that conv2d skips packing it on every
/// call. A weight with one input channel per group (depthwise) is kept as it is: its direct loop
/// reads it unpacked.
class PackedConv2dWeight {
 public:
  PackedConv2dWeight() = default;
  PackedConv2dWeight(const Tensor<float>& weight, std::int64_t groups) : groups_(groups) {
    BIQA_CHECK(weight.dim() == 4 && groups > 0 && weight.size(0) % groups == 0, ErrorCode::invalid_argument,
               "PackedConv2dWeight: weight [O, C/groups, KH, KW] with O divisible by groups=", groups, ", got ",
               weight.shape().to_string());
    shape_ = weight.shape();
    const Tensor<float> w = weight.contiguous();
    if (depthwise()) {
      data_ = w.clone();
      return;
    }
    const std::int64_t og = out_per_group(), kdim = depth();
    const std::int64_t a_size = detail::packed::packed_a_size(og, kdim);
    data_ = Tensor<float>({std::max<std::int64_t>(groups * a_size, 1)});
    for (std::int64_t g = 0; g < groups; ++g)
      detail::packed::pack_a_whole({w.data() + g * og * kdim, kdim, 1}, og, kdim, data_.data() + g * a_size);
  }
  bool defined() const { return data_.defined(); }
  const Shape& shape() const { return shape_; }
  std::int64_t groups() const { return groups_; }
  bool depthwise() const { return shape_.rank() == 4 && shape_[1] == 1; }
  /// The packed matrices, group after group (depthwise: the weight itself).
  const float* data() const { return data_.data(); }

  /// The weight [O, C/groups, KH, KW] again (exact: packing only moves values).
  Tensor<float> unpack() const {
    if (depthwise()) return data_.clone();
    Tensor<float> w(shape_);
    const std::int64_t og = out_per_group(), kdim = depth(), mr = detail::packed::mr;
    const std::int64_t a_size = detail::packed::packed_a_size(og, kdim);
    for (std::int64_t g = 0; g < groups_; ++g)
      for (std::int64_t o = 0; o < og; ++o)
        for (std::int64_t p = 0; p < kdim; ++p)
          w.data()[(g * og + o) * kdim + p] = data_.data()[g * a_size + (o / mr) * kdim * mr + p * mr + o % mr];
    return w;
  }

 private:
  std::int64_t out_per_group() const { return shape_[0] / groups_; }
  std::int64_t depth() const { return shape_[1] * shape_[2] * shape_[3]; }
  Tensor<float> data_;
  Shape shape_;
  std::int64_t groups_ = 1;
};

/// A layer's packed weight, made on first use and then shared; safe to call from several threads
/// (WeightPacking::always, for convolutions whose weight is not the layer's own copy).
class PackedConv2dWeightOnce {
 public:
  const PackedConv2dWeight& get(const Tensor<float>& weight, std::int64_t groups) {
    std::call_once(once_, [&] { packed_ = PackedConv2dWeight(weight, groups); });
    return packed_;
  }

 private:
  std::once_flag once_;
  PackedConv2dWeight packed_;
};

namespace detail {
/// conv2d on a weight given as `raw` [O, C/groups, KH, KW] (contiguous) or as `packed` (one of the
/// two; depthwise weights always come raw).
inline Tensor<float> conv2d_impl(const Tensor<float>& x_in, const Shape& weight_shape, const float* raw,
                                 const float* packed, const Tensor<float>& bias, Context& ctx,
                                 const Conv2dOptions& opt, const Conv2dEpilogue& epilogue) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument, "conv2d needs input [N, C, H, W], got ",
             x_in.shape().to_string());
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [dh, dw] = opt.dilation;
  const std::int64_t groups = opt.groups;
  BIQA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0 && groups > 0,
             ErrorCode::invalid_argument, "conv2d: stride and dilation must be positive, padding "
             "non-negative, groups positive");
  const std::int64_t n_batch = x_in.size(0), c_in = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  const std::int64_t c_out = weight_shape[0], cg = weight_shape[1], kh = weight_shape[2], kw = weight_shape[3];
  BIQA_CHECK(cg * groups == c_in && c_out % groups == 0, ErrorCode::invalid_argument,
             "conv2d: input ", x_in.shape().to_string(), " and weight ", weight_shape.to_string(),
             " do not match with groups=", groups, " (expected ", c_in, " = ", cg, " × groups)");
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out), ErrorCode::invalid_argument,
             "conv2d: bias ", bias.shape().to_string(), " for ", c_out, " output channels");
  const std::int64_t oh = conv_output_size(h, kh, sh, ph, dh), ow = conv_output_size(w, kw, sw, pw, dw);
  BIQA_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument, "conv2d: input ", x_in.shape().to_string(),
             " is smaller than the (dilated, padded) kernel ", kh, "x", kw);

  BIQA_CHECK(!epilogue.residual.defined() || epilogue.residual.shape() == Shape({n_batch, c_out, oh, ow}),
             ErrorCode::invalid_argument, "conv2d: residual ", epilogue.residual.shape().to_string(),
             " for an output of ", Shape({n_batch, c_out, oh, ow}).to_string());

  const Tensor<float> x = x_in.contiguous();
  const Tensor<float> b = bias.defined() ? bias.contiguous() : bias;
  const Tensor<float> res = epilogue.residual.defined() ? epilogue.residual.contiguous() : epilogue.residual;
  const float* rd = res.defined() ? res.data() : nullptr;
  const Activation act = epilogue.activation;
  Tensor<float> out({n_batch, c_out, oh, ow});
  const std::int64_t og = c_out / groups, plane = oh * ow, in_plane = h * w;
  const float* xd = x.data();
  const float* wd = raw;
  const float* bd = b.defined() ? b.data() : nullptr;
  float* od = out.data();
  if (out.numel() == 0) return out;

  if (cg == 1) {
    BIQA_CHECK(wd, ErrorCode::internal, "conv2d: a depthwise weight must come unpacked");
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
        detail::conv_epilogue(dst, rd ? rd + p * plane : nullptr, plane, 0, 1, 0, plane, nullptr, act);
      }
    });
    return out;
  }

  const std::int64_t kdim = cg * kh * kw;
  const bool pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
  const std::int64_t threads = ctx.resolved_threads();
  // Column blocks bound the im2col buffer (2 MB per thread; 1 MB was 2-6% slower on ResNet-50's 3×3
  // layers, each block re-reading the packed weight) and give every thread work even
  // for a single image. With few blocks, their count is rounded up to a multiple of the threads
  // (7 blocks on 2 threads would leave one idle for an eighth of the time), and the blocks of an
  // image are made equal (3136 positions in blocks of 2048 and 1088 kept one of two threads idle
  // for a third of the time); they stay whole NR-column slivers. The split does not change any
  // result: each output element sums in the same order whichever block it lands in.
  constexpr std::int64_t nr = detail::packed::nr;
  const std::int64_t max_chunk =
      std::clamp<std::int64_t>((std::int64_t(1) << 19) / std::max<std::int64_t>(kdim, 1), 64, 4096);
  std::int64_t chunks = (plane + max_chunk - 1) / max_chunk;
  const std::int64_t images = n_batch * groups;
  if (threads > 1 && images * chunks < 8 * threads && (images * chunks) % threads != 0)
    chunks = ((images * chunks + threads - 1) / threads * threads + images - 1) / images;
  const std::int64_t chunk = std::max(nr, ((plane + chunks - 1) / chunks + nr - 1) / nr * nr);
  chunks = (plane + chunk - 1) / chunk;
  // Late layers of a CNN have few positions (7×7) and many channels: with one column chunk per
  // image, every thread but one would idle. Output channels are then split too (each row block
  // redoes its chunk's im2col, which is cheap next to its GEMM).
  const std::int64_t mr = detail::packed::mr;
  const std::int64_t max_row_blocks = std::max<std::int64_t>(1, og / (4 * mr));
  const std::int64_t base_tasks = n_batch * groups * chunks;
  const std::int64_t row_blocks =
      threads == 1 ? 1 : std::clamp<std::int64_t>((2 * threads + base_tasks - 1) / base_tasks, 1, max_row_blocks);
  const std::int64_t rows_per_block = ((og + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
  const std::int64_t tasks = base_tasks * row_blocks;

  const detail::ConvGeometry geo{h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow};

  // The weight is packed for the GEMM kernel once per call, not once per column block: a late
  // ResNet layer's 2.4M-float weight used to be copied again for every block of 113 positions.
  // (PackedConv2dWeight does it once for all calls.)
  const std::int64_t a_size = detail::packed::packed_a_size(og, kdim);
  const float* packed_weight = packed;
  if (!packed_weight) {
    detail::packed::Buffers& caller_buffers = detail::conv_buffers();
    float* const dst = detail::packed::Buffers::grow(caller_buffers.a, caller_buffers.a_size, groups * a_size);
    const std::int64_t slivers = (og + mr - 1) / mr;
    parallel_for(ctx, groups * slivers, std::max<std::int64_t>(1, (std::int64_t(1) << 14) / std::max<std::int64_t>(kdim * mr, 1)),
                 [&](std::int64_t s0, std::int64_t s1) {
      for (std::int64_t s = s0; s < s1; ++s) {
        const std::int64_t g = s / slivers, row = (s % slivers) * mr;
        detail::packed::pack_a({wd + (g * og + row) * kdim, kdim, 1}, 0, std::min(mr, og - row), 0, kdim,
                               dst + g * a_size + row * kdim);
      }
    });
    packed_weight = dst;
  }

  parallel_for(ctx, tasks, 1, [&](std::int64_t t0, std::int64_t t1) {
    detail::packed::Buffers& worker_buffers = detail::conv_buffers();
    float* const col = pointwise ? nullptr
                                 : detail::packed::Buffers::grow(worker_buffers.b, worker_buffers.b_size,
                                                                 detail::packed::packed_b_size(kdim, std::min(chunk, plane)));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t rb = t % row_blocks, rest = t / row_blocks;
      const std::int64_t n = rest / (groups * chunks), g = (rest / chunks) % groups, c = rest % chunks;
      const std::int64_t c0 = c * chunk, c1 = std::min(plane, c0 + chunk), cols = c1 - c0;
      const std::int64_t r0 = rb * rows_per_block, r1 = std::min(og, r0 + rows_per_block);
      if (r0 >= r1) continue;
      const float* src = xd + (n * c_in + g * cg) * in_plane;
      const std::int64_t out_offset = (n * c_out + g * og) * plane;
      float* dst = od + out_offset;
      const detail::packed::PackedA a{packed_weight + g * a_size, og, kdim};
      if (pointwise) {
        detail::packed_gemm(r1 - r0, cols, a, r0, {src + c0, plane, 1}, dst + r0 * plane + c0, plane);
      } else {
        detail::im2col_packed(src, cg, geo, c0, cols, col);
        detail::packed_gemm(r1 - r0, cols, a, r0, detail::packed::PackedB{col, kdim, cols}, 0,
                            dst + r0 * plane + c0, plane);
      }
      detail::conv_epilogue(dst, rd ? rd + out_offset : nullptr, plane, r0, r1, c0, c1,
                            bd ? bd + g * og : nullptr, act);
    }
  });
  return out;
}
}  // namespace detail

/// x [N, C, H, W], weight [O, C / groups, KH, KW], bias [O] (optional: an undefined tensor)
/// → [N, O, OH, OW], then `epilogue` (a residual added, an activation).
inline Tensor<float> conv2d(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias,
                            Context& ctx, const Conv2dOptions& opt = {}, const Conv2dEpilogue& epilogue = {}) {
  BIQA_CHECK(weight.dim() == 4, ErrorCode::invalid_argument,
             "conv2d needs weight [O, C/groups, KH, KW], got ", weight.shape().to_string());
  const Tensor<float> wt = weight.contiguous();
  return detail::conv2d_impl(x, wt.shape(), wt.data(), nullptr, bias, ctx, opt, epilogue);
}

/// conv2d with a weight packed beforehand; its groups must be opt.groups.
inline Tensor<float> conv2d(const Tensor<float>& x, const PackedConv2dWeight& weight, const Tensor<float>& bias,
                            Context& ctx, const Conv2dOptions& opt = {}, const Conv2dEpilogue& epilogue = {}) {
  BIQA_CHECK(weight.defined(), ErrorCode::invalid_argument, "conv2d: empty packed weight");
  BIQA_CHECK(weight.groups() == opt.groups, ErrorCode::invalid_argument, "conv2d: the weight was packed for groups=",
             weight.groups(), ", the options say groups=", opt.groups);
  return detail::conv2d_impl(x, weight.shape(), weight.depthwise() ? weight.data() : nullptr,
                             weight.depthwise() ? nullptr : weight.data(), bias, ctx, opt, epilogue);
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

#pragma once
/// @file
/// Direct convolution on a channel-blocked layout (NCHWc): a tensor [N, C, H, W] is held as
/// [N, ceil(C / b), H, W, b] with b = channel_block (one SIMD packet, 16 floats with AVX-512), so
/// that the b channels of one position are one vector. The kernel keeps a tile of output positions
/// (up to two row segments) × two channel blocks in registers over the whole depth, broadcasting
/// each input value straight from the (zero-padded) input against a vector of weights: no im2col
/// copy, and a 7 × 7 plane wastes no vector lanes (im2col + GEMM puts positions in the lanes, and
/// 49 positions fill 64). The bias, a residual and the activation are applied while the tile is in
/// registers or L1. ResNet-50's 3×3 layers run at 111-114 GFLOP/s this way against 74-92 through
/// im2col + GEMM on a 117 GFLOP/s core (docs/performance.md).
///
/// Only groups = 1; the input may be blocked or plain NCHW (a network's first convolution, whose
/// 3 input channels would otherwise be padded to a whole block).

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/conv2d.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

/// Channels per block of the blocked layout: one SIMD packet of floats.
inline constexpr std::int64_t channel_block = detail::packed::packet_size;

/// Whether `x` is a blocked tensor [N, Cb, H, W, channel_block].
inline bool is_blocked(const Tensor<float>& x) { return x.dim() == 5 && x.size(4) == channel_block; }

/// x [N, C, H, W] → [N, ceil(C / b), H, W, b], zero in the channels past C.
inline Tensor<float> to_blocked(const Tensor<float>& x_in, Context& ctx) {
  BIQA_CHECK(x_in.dim() == 4, ErrorCode::invalid_argument, "to_blocked needs [N, C, H, W], got ",
             x_in.shape().to_string());
  const Tensor<float> x = x_in.contiguous();
  const std::int64_t n = x.size(0), c = x.size(1), plane = x.size(2) * x.size(3), b = channel_block;
  const std::int64_t cb = (c + b - 1) / b;
  Tensor<float> out({n, cb, x.size(2), x.size(3), b});
  parallel_for(ctx, n * cb, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t img = p / cb, blk = p % cb;
      float* dst = out.data() + p * plane * b;
      for (std::int64_t l = 0; l < b; ++l) {
        const std::int64_t ch = blk * b + l;
        if (ch >= c) {
          for (std::int64_t i = 0; i < plane; ++i) dst[i * b + l] = 0.0f;
          continue;
        }
        const float* src = x.data() + (img * c + ch) * plane;
        for (std::int64_t i = 0; i < plane; ++i) dst[i * b + l] = src[i];
      }
    }
  });
  return out;
}

/// xb [N, Cb, H, W, b] → [N, channels, H, W] (channels ≤ Cb · b; the rest is padding).
inline Tensor<float> from_blocked(const Tensor<float>& xb_in, std::int64_t channels, Context& ctx) {
  BIQA_CHECK(is_blocked(xb_in), ErrorCode::invalid_argument, "from_blocked needs [N, Cb, H, W, ", channel_block,
             "], got ", xb_in.shape().to_string());
  const std::int64_t b = channel_block;
  BIQA_CHECK(channels > 0 && channels <= xb_in.size(1) * b && channels > (xb_in.size(1) - 1) * b,
             ErrorCode::invalid_argument, "from_blocked: ", channels, " channels in ", xb_in.size(1), " blocks of ", b);
  const Tensor<float> xb = xb_in.contiguous();
  const std::int64_t n = xb.size(0), cb = xb.size(1), plane = xb.size(2) * xb.size(3);
  Tensor<float> out({n, channels, xb.size(2), xb.size(3)});
  parallel_for(ctx, n * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t img = p / channels, ch = p % channels;
      const float* src = xb.data() + ((img * cb + ch / b) * plane) * b + ch % b;
      float* dst = out.data() + p * plane;
      for (std::int64_t i = 0; i < plane; ++i) dst[i] = src[i * b];
    }
  });
  return out;
}

/// max_pool2d on a blocked tensor (same options, same results per channel, NaN winning as there).
inline Tensor<float> max_pool2d_blocked(const Tensor<float>& xb_in, Context& ctx, const Pool2dOptions& opt) {
  BIQA_CHECK(is_blocked(xb_in), ErrorCode::invalid_argument, "max_pool2d_blocked needs [N, Cb, H, W, ",
             channel_block, "], got ", xb_in.shape().to_string());
  const std::int64_t b = channel_block;
  const Tensor<float> xb = xb_in.contiguous();
  const auto g = detail::pool_geometry("max_pool2d", Shape({xb.size(0), xb.size(1), xb.size(2), xb.size(3)}), opt, true);
  Tensor<float> out({g.n, g.c, g.oh, g.ow, b});
  using Packet = detail::packed::Packet;
  parallel_for(ctx, g.n * g.c * g.oh, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t p = r / g.oh, y = r % g.oh;
      const float* src = xb.data() + p * g.h * g.w * b;
      float* dst = out.data() + (p * g.oh + y) * g.ow * b;
      const std::int64_t iy0 = y * g.sh - g.ph;
      const auto [ky_lo, ky_hi] = detail::taps_inside(iy0, g.dh, g.kh, g.h);
      for (std::int64_t x = 0; x < g.ow; ++x, dst += b) {
        const std::int64_t ix0 = x * g.sw - g.pw;
        const auto [kx_lo, kx_hi] = detail::taps_inside(ix0, g.dw, g.kw, g.w);
        using namespace Eigen::internal;
        Packet m = pset1<Packet>(-std::numeric_limits<float>::infinity());
        for (std::int64_t ky = ky_lo; ky < ky_hi; ++ky)
          for (std::int64_t kx = kx_lo; kx < kx_hi; ++kx) {
            const Packet v = ploadu<Packet>(src + ((iy0 + ky * g.dh) * g.w + ix0 + kx * g.dw) * b);
            // v wins when it is larger or NaN: once a NaN is the maximum, nothing replaces it.
            m = pselect(pcmp_eq(v, v), pselect(pcmp_lt(m, v), v, m), v);
          }
        pstoreu(dst, m);
      }
    }
  });
  return out;
}

/// Global average pooling of a blocked tensor: [N, Cb, H, W, b] → [N, channels] (the sum in the
/// order adaptive_avg_pool2d(x, 1, 1) takes, so the results are the same).
inline Tensor<float> global_avg_pool_blocked(const Tensor<float>& xb_in, std::int64_t channels, Context& ctx) {
  BIQA_CHECK(is_blocked(xb_in), ErrorCode::invalid_argument, "global_avg_pool_blocked needs [N, Cb, H, W, ",
             channel_block, "], got ", xb_in.shape().to_string());
  const std::int64_t b = channel_block;
  BIQA_CHECK(channels > 0 && channels <= xb_in.size(1) * b, ErrorCode::invalid_argument,
             "global_avg_pool_blocked: ", channels, " channels in ", xb_in.size(1), " blocks of ", b);
  const Tensor<float> xb = xb_in.contiguous();
  const std::int64_t n = xb.size(0), cb = xb.size(1), plane = xb.size(2) * xb.size(3);
  BIQA_CHECK(plane > 0, ErrorCode::invalid_argument, "global_avg_pool_blocked: empty plane");
  Tensor<float> out({n, channels});
  parallel_for(ctx, n * cb, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t img = p / cb, blk = p % cb;
      const float* src = xb.data() + p * plane * b;
      alignas(64) float sum[64] = {};
      for (std::int64_t i = 0; i < plane; ++i)
        for (std::int64_t l = 0; l < b; ++l) sum[l] += src[i * b + l];
      for (std::int64_t l = 0; l < b && blk * b + l < channels; ++l)
        out.data()[img * channels + blk * b + l] = sum[l] / static_cast<float>(plane);
    }
  });
  return out;
}

/// A convolution weight [O, C, KH, KW] (groups = 1) packed for conv2d_blocked: output channels in
/// groups of two blocks (the last group one block when the block count is odd), each group
/// [C / bi][KH][KW][bi][its channels], where bi is the input's block (channel_block for a blocked
/// input, 1 for a plain NCHW one). Channels past O and past C are zero.
class BlockedConv2dWeight {
 public:
  BlockedConv2dWeight() = default;
  BlockedConv2dWeight(const Tensor<float>& weight, bool blocked_input) : blocked_input_(blocked_input) {
    BIQA_CHECK(weight.dim() == 4 && weight.numel() > 0, ErrorCode::invalid_argument,
               "BlockedConv2dWeight: weight [O, C, KH, KW], got ", weight.shape().to_string());
    shape_ = weight.shape();
    const Tensor<float> w = weight.contiguous();
    const std::int64_t o = shape_[0], c = shape_[1], kh = shape_[2], kw = shape_[3], b = channel_block;
    const std::int64_t bi = input_block(), c_pad = (c + bi - 1) / bi * bi, depth = c_pad * kh * kw;
    const std::int64_t o_blocks = (o + b - 1) / b;
    data_ = Tensor<float>({o_blocks * b * depth});
    std::fill(data_.data(), data_.data() + data_.numel(), 0.0f);
    // One output group and one input block at a time: its source rows are read in order and its
    // destination (2b × bi × KH × KW floats at most) is written while it is in L1. One output
    // channel at a time over the whole depth, writing floats 2 KiB apart, packing took ResNet-50's
    // load from 70 to 170 ms.
    const std::int64_t taps = kh * kw;
    for (std::int64_t group = 0; group < (o_blocks + 1) / 2; ++group) {
      const std::int64_t width = std::min<std::int64_t>(2, o_blocks - 2 * group) * b;
      float* const dst = data_.data() + group * 2 * b * depth;
      for (std::int64_t cb = 0; cb < (c + bi - 1) / bi; ++cb)
        for (std::int64_t j = 0; j < width && group * 2 * b + j < o; ++j) {
          const float* src = w.data() + (group * 2 * b + j) * c * taps;
          for (std::int64_t cl = 0; cl < bi && cb * bi + cl < c; ++cl)
            for (std::int64_t tap = 0; tap < taps; ++tap)
              dst[packed_offset(cb, tap, cl, j, taps, bi, width)] = src[(cb * bi + cl) * taps + tap];
        }
    }
  }
  bool defined() const { return data_.defined(); }
  const Shape& shape() const { return shape_; }
  bool blocked_input() const { return blocked_input_; }
  std::int64_t input_block() const { return blocked_input_ ? channel_block : 1; }
  const float* data() const { return data_.data(); }

  /// The weight [O, C, KH, KW] again (exact: packing only moves values).
  Tensor<float> unpack() const {
    Tensor<float> w(shape_);
    const std::int64_t o = shape_[0], c = shape_[1], kh = shape_[2], kw = shape_[3], b = channel_block;
    const std::int64_t bi = input_block(), depth = (c + bi - 1) / bi * bi * kh * kw, o_blocks = (o + b - 1) / b;
    for (std::int64_t oc = 0; oc < o; ++oc) {
      const std::int64_t ob = oc / b, group = ob / 2, width = std::min<std::int64_t>(2, o_blocks - 2 * group) * b;
      const float* src = data_.data() + group * 2 * b * depth;
      const std::int64_t j = (ob % 2) * b + oc % b;  // the channel's column in its group
      for (std::int64_t ci = 0; ci < c; ++ci)
        for (std::int64_t tap = 0; tap < kh * kw; ++tap)
          w.data()[(oc * c + ci) * kh * kw + tap] = src[packed_offset(ci / bi, tap, ci % bi, j, kh * kw, bi, width)];
    }
    return w;
  }

 private:
  /// Where, in its output group's [C / bi][KH·KW][bi][width] block, the weight of input block cb,
  /// tap, channel cl of that block and the group's column j lies.
  static std::int64_t packed_offset(std::int64_t cb, std::int64_t tap, std::int64_t cl, std::int64_t j,
                                    std::int64_t taps, std::int64_t bi, std::int64_t width) {
    return ((cb * taps + tap) * bi + cl) * width + j;
  }

  Tensor<float> data_;
  Shape shape_;
  bool blocked_input_ = true;
};

namespace detail {

/// Output positions per register tile: as many as leave room, with two channel blocks each, for the
/// two weight vectors and the broadcast value (14 with 32 vector registers, 6 with 16).
inline constexpr int blocked_tile_positions =
    packed::vector_registers >= 32 ? 14 : (packed::vector_registers - 4) / 2;

/// What every tile of one convolution call shares.
struct BlockedTileArgs {
  std::int64_t in_blocks;       ///< input channel blocks (of the input's block size)
  std::int64_t block_stride;    ///< floats from one input channel block to the next
  const std::int64_t* taps;     ///< per kernel tap, the offset of its input from the tile's
  std::int64_t n_taps;
  std::int64_t out_block_stride;  ///< floats from one output channel block to the next
  Activation activation;
};

/// One register tile: RA positions from row segment a (input at xa, output at oa) and RB from
/// segment b, times OB output channel blocks, summed over the whole depth with the weights of one
/// output group at w; then + bias (+ residual, laid out like the output), activation, stored.
template <int BI, int OB, int RA, int RB>
void blocked_tile(const BlockedTileArgs& t, const float* xa, const float* xb, const float* w, const float* bias,
                  const float* res_a, const float* res_b, float* oa, float* ob) {
  using namespace Eigen::internal;
  using Packet = packed::Packet;
  constexpr int b = static_cast<int>(channel_block), R = RA + RB;
  Packet acc[OB][R];
  for (int j = 0; j < OB; ++j)
    for (int r = 0; r < R; ++r) acc[j][r] = pset1<Packet>(0.0f);
  // Positions of a segment are consecutive in the (stride-phase) input: one pointer per segment,
  // and every broadcast a constant displacement from it. One loop over (input block, tap) steps:
  // with a loop per block and one per tap inside it, g++ stored and reloaded all 28 accumulators
  // around the inner loop, every 16 input channels of a 1×1 convolution (its 1×1 layers ran at
  // 97-101 GFLOP/s, 109-114 this way).
  const std::int64_t steps = t.in_blocks * t.n_taps;
  std::int64_t tap = 0, block_offset = 0;
  for (std::int64_t step = 0; step < steps; ++step) {
    const std::int64_t off = block_offset + t.taps[tap];
    if (++tap == t.n_taps) tap = 0, block_offset += t.block_stride;
    const float* pa = xa + off;
    const float* pb = RB > 0 ? xb + off : nullptr;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
    for (int ci = 0; ci < BI; ++ci, w += OB * b) {
      const Packet w0 = ploadu<Packet>(w);
      const Packet w1 = OB == 2 ? ploadu<Packet>(w + b) : w0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 14
#endif
      for (int r = 0; r < RA; ++r) {
        const Packet a = pset1<Packet>(pa[r * BI + ci]);
        acc[0][r] = pmadd(a, w0, acc[0][r]);
        if constexpr (OB == 2) acc[1][r] = pmadd(a, w1, acc[1][r]);
      }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 14
#endif
      for (int r = 0; r < RB; ++r) {
        const Packet a = pset1<Packet>(pb[r * BI + ci]);
        acc[0][RA + r] = pmadd(a, w0, acc[0][RA + r]);
        if constexpr (OB == 2) acc[1][RA + r] = pmadd(a, w1, acc[1][RA + r]);
      }
    }
  }
  // The sum first, then the bias, then the residual: the order of conv2d's epilogue.
  const Packet zero = pset1<Packet>(0.0f);
  for (int j = 0; j < OB; ++j) {
    const Packet bj = ploadu<Packet>(bias + j * b);
    const std::int64_t o = j * t.out_block_stride;
    for (int r = 0; r < R; ++r) {
      const std::int64_t at = o + (r < RA ? r : r - RA) * b;
      const float* res = r < RA ? res_a : res_b;
      Packet v = padd(acc[j][r], bj);
      if (res) v = padd(v, ploadu<Packet>(res + at));
      if (t.activation == Activation::relu) v = pselect(pcmp_lt(v, zero), zero, v);  // NaN stays NaN
      pstoreu((r < RA ? oa : ob) + at, v);
    }
    if (t.activation != Activation::identity && t.activation != Activation::relu) {
      activate_span(oa + o, RA * b, t.activation);
      if constexpr (RB > 0) activate_span(ob + o, RB * b, t.activation);
    }
  }
}

using BlockedTileFn = void (*)(const BlockedTileArgs&, const float*, const float*, const float*, const float*,
                               const float*, const float*, float*, float*);

/// The tile kernel of one input block size and output group width for table index `index`:
/// RA - 1 for one row segment of RA positions, P + RA - 1 for two segments of RA each
/// (RA ≤ P / 2), where P = blocked_tile_positions. (A recursive lookup rather than a constexpr
/// table of pointers, which nvcc's front end refused.)
template <int BI, int OB, int I = 0>
BlockedTileFn blocked_tile_fn(int index) {
  constexpr int P = blocked_tile_positions;
  if constexpr (I >= P + P / 2) {
    return nullptr;
  } else {
    if (index == I) {
      if constexpr (I < P)
        return &blocked_tile<BI, OB, I + 1, 0>;
      else
        return &blocked_tile<BI, OB, I - P + 1, I - P + 1>;
    }
    return blocked_tile_fn<BI, OB, I + 1>(index);
  }
}

/// A tile of output positions: `length` positions from (ya, x0), and as many from (yb, x0) when yb ≥ 0.
struct BlockedTile {
  std::int64_t ya, yb, x0, length;
};

/// Cuts an oh × ow plane into tiles: each row into the fewest segments of at most P positions, of
/// near-equal length; rows that fit in half a tile go two at a time.
inline std::vector<BlockedTile> blocked_tiles(std::int64_t oh, std::int64_t ow) {
  constexpr std::int64_t p = blocked_tile_positions;
  std::vector<BlockedTile> tiles;
  if (ow <= p / 2) {
    std::int64_t y = 0;
    for (; y + 1 < oh; y += 2) tiles.push_back({y, y + 1, 0, ow});
    if (y < oh) tiles.push_back({y, -1, 0, ow});
    return tiles;
  }
  const std::int64_t segments = (ow + p - 1) / p, base = ow / segments, longer = ow % segments;
  for (std::int64_t y = 0; y < oh; ++y)
    for (std::int64_t s = 0, x = 0; s < segments; ++s) {
      const std::int64_t len = base + (s < longer ? 1 : 0);
      tiles.push_back({y, -1, x, len});
      x += len;
    }
  return tiles;
}

}  // namespace detail

/// conv2d (groups = 1) on a blocked input [N, Cb, H, W, b], or on a plain [N, C, H, W] input when
/// the weight was packed for one, → a blocked output [N, ceil(O / b), OH, OW, b]; `epilogue` as for
/// conv2d, its residual blocked like the output. Output channels past O are zero before the
/// activation (their weights and bias are zero).
inline Tensor<float> conv2d_blocked(const Tensor<float>& x_in, const BlockedConv2dWeight& weight,
                                    const Tensor<float>& bias, Context& ctx, const Conv2dOptions& opt = {},
                                    const Conv2dEpilogue& epilogue = {}) {
  BIQA_CHECK(weight.defined(), ErrorCode::invalid_argument, "conv2d_blocked: empty weight");
  const std::int64_t b = channel_block, bi = weight.input_block();
  const Shape& ws = weight.shape();
  const std::int64_t c_out = ws[0], c_in = ws[1], kh = ws[2], kw = ws[3];
  if (weight.blocked_input())
    BIQA_CHECK(is_blocked(x_in) && x_in.size(1) == (c_in + b - 1) / b, ErrorCode::invalid_argument,
               "conv2d_blocked: input ", x_in.shape().to_string(), " is not a blocked tensor of ", c_in, " channels");
  else
    BIQA_CHECK(x_in.dim() == 4 && x_in.size(1) == c_in, ErrorCode::invalid_argument, "conv2d_blocked: input ",
               x_in.shape().to_string(), " is not [N, ", c_in, ", H, W] (the weight was packed for a plain input)");
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [dh, dw] = opt.dilation;
  BIQA_CHECK(opt.groups == 1, ErrorCode::invalid_argument, "conv2d_blocked: groups=", opt.groups, " (only 1)");
  BIQA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0, ErrorCode::invalid_argument,
             "conv2d_blocked: stride and dilation must be positive, padding non-negative");
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out), ErrorCode::invalid_argument,
             "conv2d_blocked: bias ", bias.shape().to_string(), " for ", c_out, " output channels");
  const std::int64_t n = x_in.size(0), in_blocks = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  const std::int64_t oh = conv_output_size(h, kh, sh, ph, dh), ow = conv_output_size(w, kw, sw, pw, dw);
  BIQA_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument, "conv2d_blocked: input ", x_in.shape().to_string(),
             " is smaller than the (dilated, padded) kernel ", kh, "x", kw);
  const std::int64_t o_blocks = (c_out + b - 1) / b, groups = (o_blocks + 1) / 2;
  BIQA_CHECK(!epilogue.residual.defined() || epilogue.residual.shape() == Shape({n, o_blocks, oh, ow, b}),
             ErrorCode::invalid_argument, "conv2d_blocked: residual ", epilogue.residual.shape().to_string(),
             " for an output of ", Shape({n, o_blocks, oh, ow, b}).to_string());
  Tensor<float> out({n, o_blocks, oh, ow, b});
  if (n == 0) return out;

  // The input as the kernel reads it: zero-padded, and with a stride dealt into stride phases
  // (phase (py, px) holds padded rows py, py + sh, ... and columns px, px + sw, ...), so that the
  // positions of a tile are consecutive for every tap and every broadcast is at a constant
  // displacement from one pointer (a runtime stride between them cost registers the compiler then
  // spilled). Only the phases that some tap reads are made. A stride-1 convolution without padding
  // reads its input as it is.
  const Tensor<float> x = x_in.contiguous();
  const std::int64_t hp = h + 2 * ph, wp = w + 2 * pw, hq = (hp + sh - 1) / sh, wq = (wp + sw - 1) / sw;
  const std::int64_t block_stride = hq * wq * bi, phase_stride = in_blocks * block_stride;
  std::vector<std::int64_t> phase_of(static_cast<std::size_t>(sh * sw), -1), taps;
  std::vector<std::pair<std::int64_t, std::int64_t>> phases;  // (py, px) of each phase made
  for (std::int64_t ky = 0; ky < kh; ++ky)
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const std::int64_t py = ky * dh % sh, px = kx * dw % sw;
      std::int64_t& phase = phase_of[static_cast<std::size_t>(py * sw + px)];
      if (phase < 0) phase = static_cast<std::int64_t>(phases.size()), phases.emplace_back(py, px);
      taps.push_back(phase * phase_stride + (ky * dh / sh * wq + kx * dw / sw) * bi);
    }
  const std::int64_t image_stride = static_cast<std::int64_t>(phases.size()) * phase_stride;
  Tensor<float> source = x;
  if (sh > 1 || sw > 1 || ph > 0 || pw > 0) {
    source = Tensor<float>({n * image_stride});
    const std::int64_t n_phases = static_cast<std::int64_t>(phases.size());
    parallel_for(ctx, n * n_phases * in_blocks, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const std::int64_t img = p / (n_phases * in_blocks), phase = p / in_blocks % n_phases, cb = p % in_blocks;
        const auto [py, px] = phases[static_cast<std::size_t>(phase)];
        const float* src = x.data() + (img * in_blocks + cb) * h * w * bi;
        float* dst = source.data() + img * image_stride + phase * phase_stride + cb * block_stride;
        // Columns qx of the phase with ix = qx·sw + px − pw inside the input: [q0, q1).
        const std::int64_t q0 = std::min(wq, std::max<std::int64_t>(0, (pw - px + sw - 1) / sw));
        const std::int64_t q1 = std::max(q0, std::min(wq, (w + pw - px + sw - 1) / sw));
        for (std::int64_t qy = 0; qy < hq; ++qy, dst += wq * bi) {
          const std::int64_t iy = qy * sh + py - ph;
          if (iy < 0 || iy >= h) {
            std::fill(dst, dst + wq * bi, 0.0f);
            continue;
          }
          std::fill(dst, dst + q0 * bi, 0.0f);
          const float* row = src + iy * w * bi;
          if (sw == 1) {
            std::copy(row + (q0 + px - pw) * bi, row + (q1 + px - pw) * bi, dst + q0 * bi);
          } else if (bi == 1) {
            // One float per column: a std::copy of one float was a memmove call per float (16% of
            // ResNet-50's stem).
            for (std::int64_t qx = q0; qx < q1; ++qx) dst[qx] = row[qx * sw + px - pw];
          } else {
            for (std::int64_t qx = q0; qx < q1; ++qx)
              std::copy_n(row + (qx * sw + px - pw) * b, b, dst + qx * b);
          }
          std::fill(dst + q1 * bi, dst + wq * bi, 0.0f);
        }
      }
    });
  }
  // Bias padded to whole output groups.
  std::vector<float> bias_padded(static_cast<std::size_t>(groups * 2 * b), 0.0f);
  if (bias.defined()) {
    const Tensor<float> bc = bias.contiguous();
    std::copy(bc.data(), bc.data() + c_out, bias_padded.begin());
  }
  const Tensor<float> res = epilogue.residual.defined() ? epilogue.residual.contiguous() : epilogue.residual;

  const detail::BlockedTileArgs args{in_blocks, block_stride, taps.data(), kh * kw, oh * ow * b, epilogue.activation};
  const std::vector<detail::BlockedTile> tiles = detail::blocked_tiles(oh, ow);
  const std::int64_t n_tiles = static_cast<std::int64_t>(tiles.size());
  // Each tile's kernel for a group of one and of two output blocks, looked up once per call.
  constexpr int P = detail::blocked_tile_positions, b_in = static_cast<int>(channel_block);
  std::vector<std::array<detail::BlockedTileFn, 2>> kernels(tiles.size());
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int index = static_cast<int>(tiles[i].yb >= 0 ? P + tiles[i].length - 1 : tiles[i].length - 1);
    kernels[i] = bi == 1 ? std::array{detail::blocked_tile_fn<1, 1>(index), detail::blocked_tile_fn<1, 2>(index)}
                         : std::array{detail::blocked_tile_fn<b_in, 1>(index), detail::blocked_tile_fn<b_in, 2>(index)};
  }
  const std::int64_t depth = (c_in + bi - 1) / bi * bi * kh * kw;
  // Tasks run image by image, then by runs of consecutive tiles whose input rows fit in half of L2
  // (`chunk` tiles), then by output group, then tile by tile: each group's weights serve a whole
  // run of tiles, and the run's input stays in L2 for every group. One run over the whole plane
  // re-read a 56 × 56 × 64 input from memory for each of the 8 groups of a 64 → 256 convolution.
  const std::int64_t input_bytes = image_stride * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t runs = std::clamp<std::int64_t>(input_bytes / (std::int64_t(256) << 10), 1, n_tiles);
  const std::int64_t chunk = (n_tiles + runs - 1) / runs;
  parallel_for(ctx, n * groups * n_tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t img = t / (groups * n_tiles), in_image = t % (groups * n_tiles);
      const std::int64_t run = in_image / (groups * chunk), run_start = run * chunk;
      const std::int64_t run_tiles = std::min(chunk, n_tiles - run_start), in_run = in_image - run_start * groups;
      const std::int64_t g = in_run / run_tiles;
      const std::size_t tile_index = static_cast<std::size_t>(run_start + in_run % run_tiles);
      const detail::BlockedTile& tile = tiles[tile_index];
      const detail::BlockedTileFn fn = kernels[tile_index][2 * g + 1 < o_blocks ? 1 : 0];
      const float* xin = source.data() + img * image_stride;
      const auto input_at = [&](std::int64_t y) { return xin + (y * wq + tile.x0) * bi; };
      const std::int64_t out_at_a = ((img * o_blocks + 2 * g) * oh + tile.ya) * ow * b + tile.x0 * b;
      const std::int64_t out_at_b = tile.yb >= 0 ? ((img * o_blocks + 2 * g) * oh + tile.yb) * ow * b + tile.x0 * b : 0;
      fn(args, input_at(tile.ya), tile.yb >= 0 ? input_at(tile.yb) : nullptr, weight.data() + g * 2 * b * depth,
         bias_padded.data() + g * 2 * b, res.defined() ? res.data() + out_at_a : nullptr,
         res.defined() && tile.yb >= 0 ? res.data() + out_at_b : nullptr, out.data() + out_at_a,
         out.data() + out_at_b);
    }
  });
  return out;
}

}  // namespace biqa::ops

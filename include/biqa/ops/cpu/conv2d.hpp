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
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

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

/// What im2col_packed keeps per thread from call to call: the zero-padded band of input rows that a
/// column block reads, and the block's gather offsets into it.
struct Im2colScratch {
  std::vector<float> band;
  std::vector<std::int32_t> offsets;
};

/// Copies NR floats of one input channel into a packed sliver: at[offsets[l]] for lane l. With
/// AVX-512 or AVX2 these are hardware gathers (the offsets held in registers across all the rows of
/// a sliver); otherwise, or when NR is not a whole number of gather vectors (Eigen without
/// vectorisation), a scalar loop.
class SliverGather {
#if defined(__AVX512F__)
  using Index = __m512i;
  static constexpr std::int64_t width = 16;
  static Index load(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  static void gather(const float* at, Index index, float* dst) { _mm512_storeu_ps(dst, _mm512_i32gather_ps(index, at, 4)); }
#elif defined(__AVX2__)
  using Index = __m256i;
  static constexpr std::int64_t width = 8;
  static Index load(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void gather(const float* at, Index index, float* dst) { _mm256_storeu_ps(dst, _mm256_i32gather_ps(at, index, 4)); }
#else
  using Index = std::int32_t;
  static constexpr std::int64_t width = 0;
  static Index load(const std::int32_t* p) { return *p; }
  static void gather(const float*, Index, float*) {}
#endif
  static constexpr bool vectorised = width > 0 && packed::nr % (width > 0 ? width : 1) == 0;
  static constexpr std::int64_t vectors = vectorised ? packed::nr / width : 1;

 public:
  explicit SliverGather(const std::int32_t* offsets) : offsets_(offsets) {
    if constexpr (vectorised)
      for (std::int64_t v = 0; v < vectors; ++v) index_[v] = load(offsets + v * width);
  }
  void operator()(const float* at, float* dst) const {
    if constexpr (vectorised) {
      for (std::int64_t v = 0; v < vectors; ++v) gather(at, index_[v], dst + v * width);
    } else {
      for (std::int64_t l = 0; l < packed::nr; ++l) dst[l] = at[offsets_[l]];
    }
  }

 private:
  Index index_[vectors] = {};
  const std::int32_t* offsets_;
};

/// im2col of output positions [c0, c0 + cols) over input channels [0, cg) of `src`, written
/// straight in the GEMM kernel's packed-B layout: row (ci, ky, kx) of column j goes to
/// col[(j / NR)·kdim·NR + row·NR + j % NR], and the last sliver's unused lanes are zero.
/// The input rows the block reads are first copied with their zero padding into a band, so that
/// every read is in bounds; then each NR-column sliver is written whole, row after row (its
/// kdim·NR floats are contiguous), by one copy when its positions are a contiguous run of the band
/// and by gathers at fixed offsets otherwise. Walking row by row across slivers instead wrote 128
/// bytes every kdim·NR·4 bytes, a stride that keeps hitting one L1 set, and splitting each row
/// into runs cost more than the copy for 7×7 and 14×14 planes: this is 1.5-4× faster
/// (docs/performance.md).
inline void im2col_packed(const float* src, std::int64_t cg, const ConvGeometry& g, std::int64_t c0, std::int64_t cols,
                          float* col, Im2colScratch& scratch) {
  using Packet = packed::Packet;
  constexpr std::int64_t nr = packed::nr, ps = packed::packet_size;
  const std::int64_t kdim = cg * g.kh * g.kw, sliver = kdim * nr, slivers = (cols + nr - 1) / nr;
  if (cols <= 0) return;
  // Padded input rows [py0, py1) hold every value the block reads.
  const std::int64_t y_first = c0 / g.ow, y_last = (c0 + cols - 1) / g.ow;
  const std::int64_t py0 = y_first * g.sh, py1 = y_last * g.sh + (g.kh - 1) * g.dh + 1;
  const bool padded = g.ph > 0 || g.pw > 0;
  const std::int64_t wp = padded ? g.w + 2 * g.pw : g.w;
  const float* origin = src + py0 * g.w;  // without padding the band is the input itself
  std::int64_t channel_stride = g.h * g.w;
  if (padded) {
    const std::int64_t band_rows = py1 - py0;
    channel_stride = band_rows * wp;
    scratch.band.resize(static_cast<std::size_t>(cg * channel_stride));
    float* band = scratch.band.data();
    for (std::int64_t ci = 0; ci < cg; ++ci) {
      const float* chan = src + ci * g.h * g.w;
      for (std::int64_t r = 0; r < band_rows; ++r) {
        float* row = band + ci * channel_stride + r * wp;
        const std::int64_t iy = py0 + r - g.ph;
        if (iy < 0 || iy >= g.h) {
          std::fill(row, row + wp, 0.0f);
          continue;
        }
        std::fill(row, row + g.pw, 0.0f);
        std::copy(chan + iy * g.w, chan + (iy + 1) * g.w, row + g.pw);
        std::fill(row + g.pw + g.w, row + wp, 0.0f);
      }
    }
    origin = band;
  }
  BIQA_CHECK(channel_stride < (std::int64_t(1) << 31), ErrorCode::invalid_argument,
             "conv2d: an input row band of ", channel_stride, " values per channel is too large");
  // Offsets of kernel tap (0, 0) per column; lanes past the block repeat the last column (zeroed below).
  scratch.offsets.resize(static_cast<std::size_t>(slivers * nr));
  std::int32_t* offsets = scratch.offsets.data();
  for (std::int64_t j = 0; j < slivers * nr; ++j) {
    const std::int64_t p = c0 + std::min(j, cols - 1);
    offsets[j] = static_cast<std::int32_t>((p / g.ow * g.sh - py0) * wp + p % g.ow * g.sw);
  }
  for (std::int64_t s = 0; s < slivers; ++s) {
    float* d = col + s * sliver;
    const std::int32_t* at_offsets = offsets + s * nr;
    bool contiguous = true;
    for (std::int64_t l = 1; l < nr && contiguous; ++l) contiguous = at_offsets[l] == at_offsets[0] + l;
    if (contiguous) {
      for (std::int64_t ci = 0; ci < cg; ++ci)
        for (std::int64_t ky = 0; ky < g.kh; ++ky)
          for (std::int64_t kx = 0; kx < g.kw; ++kx, d += nr) {
            const float* from = origin + ci * channel_stride + ky * g.dh * wp + kx * g.dw + at_offsets[0];
            for (std::int64_t l = 0; l < nr; l += ps)
              Eigen::internal::pstoreu(d + l, Eigen::internal::ploadu<Packet>(from + l));
          }
    } else {
      const SliverGather gather(at_offsets);
      for (std::int64_t ci = 0; ci < cg; ++ci)
        for (std::int64_t ky = 0; ky < g.kh; ++ky)
          for (std::int64_t kx = 0; kx < g.kw; ++kx, d += nr)
            gather(origin + ci * channel_stride + ky * g.dh * wp + kx * g.dw, d);
    }
  }
  if (cols % nr != 0) {
    float* d = col + (cols / nr) * sliver;
    for (std::int64_t r = 0; r < kdim; ++r) std::fill(d + r * nr + cols % nr, d + (r + 1) * nr, 0.0f);
  }
}

/// Scratch memory kept per thread from call to call: the packed weight (in the calling thread) and
/// the im2col block (in each worker). Fresh allocations of a few MB come back from the kernel as
/// new pages, zeroed and faulted in on every call: ResNet-50 lost about 6% to that.
inline packed::Buffers& conv_buffers() {
  thread_local packed::Buffers buffers;
  return buffers;
}
inline Im2colScratch& im2col_scratch() {
  thread_local Im2colScratch scratch;
  return scratch;
}

/// How conv2d splits its work: each image's output positions into `chunks` column blocks of `chunk`
/// (whole NR-column slivers), its output channels into `row_blocks` blocks of `rows_per_block`
/// (whole MR-row slivers). Task t is row block t % row_blocks of column block t / row_blocks, and
/// parallel_for gives each thread an equal count of consecutive tasks.
struct ConvPartition {
  std::int64_t chunk = 0, chunks = 1, row_blocks = 1, rows_per_block = 0;
};

/// Column blocks bound the im2col buffer (2 MB per thread: 1 MB was 2-6% slower on ResNet-50's 3×3
/// layers, each block re-reading the packed weight). On several threads, the split is the one that
/// gives the busiest thread the least work, counted in register tiles (a partial sliver costs a
/// whole one) plus the im2col of each column block a thread starts: more blocks than that fewest
/// (7 blocks on 2 threads leave one idle for an eighth of the time; a 14×14 plane is 7 slivers,
/// so 2 column blocks are 4 and 3 of them) and row blocks (a 7×7 plane is one or two slivers:
/// output channels are all there is to split) are tried. The split does not change any result:
/// each output element sums in the same order whichever block it lands in.
inline ConvPartition conv_partition(std::int64_t images, std::int64_t plane, std::int64_t rows, std::int64_t kdim,
                                    bool im2col, std::int64_t threads) {
  constexpr std::int64_t nr = packed::nr, mr = packed::mr;
  const std::int64_t max_chunk = std::clamp<std::int64_t>((std::int64_t(1) << 19) / std::max<std::int64_t>(kdim, 1), 64, 4096);
  const std::int64_t slivers = (plane + nr - 1) / nr;
  const std::int64_t fewest = std::min(slivers, (plane + max_chunk - 1) / max_chunk);
  auto plan = [&](std::int64_t want_chunks, std::int64_t row_blocks) {
    ConvPartition p;
    p.chunk = (slivers + want_chunks - 1) / want_chunks * nr;
    p.chunks = (plane + p.chunk - 1) / p.chunk;
    p.row_blocks = row_blocks;
    p.rows_per_block = ((rows + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
    return p;
  };
  ConvPartition best = plan(fewest, 1);
  if (threads <= 1 || images * fewest >= 8 * threads) return best;  // many blocks balance themselves
  // The busiest thread's work, in tiles of MR × NR over the whole depth; the im2col of a sliver
  // costs about half a tile (packing the input of a 1×1 convolution a quarter), fetching an MR-row
  // sliver of the weight an eighth.
  auto busiest = [&](const ConvPartition& p) {
    const std::int64_t tasks = images * p.chunks * p.row_blocks;
    const std::int64_t workers = std::min(threads, tasks), per = tasks / workers, extra = tasks % workers;
    double most = 0.0;
    std::int64_t t = 0;
    for (std::int64_t w = 0; w < workers; ++w) {
      double load = 0.0;
      std::int64_t columns_of = -1;
      for (const std::int64_t end = t + per + (w < extra ? 1 : 0); t < end; ++t) {
        const std::int64_t rb = t % p.row_blocks, block = t / p.row_blocks, c = block % p.chunks;
        const std::int64_t col_slivers = (std::min(p.chunk, plane - c * p.chunk) + nr - 1) / nr;
        const std::int64_t block_rows = std::max<std::int64_t>(0, std::min(p.rows_per_block, rows - rb * p.rows_per_block));
        const std::int64_t row_slivers = (block_rows + mr - 1) / mr;
        load += double(col_slivers * row_slivers) + 0.125 * double(row_slivers);  // + fetching the weight rows
        if (columns_of != block) load += (im2col ? 0.5 : 0.25) * double(col_slivers);  // im2col, or packing B
        columns_of = block;
      }
      most = std::max(most, load);
    }
    return most;
  };
  // The least loaded split, or, within 3% of it, the one with the fewest tasks (bigger blocks).
  std::vector<std::pair<ConvPartition, double>> candidates;
  const std::int64_t max_row_blocks = std::max<std::int64_t>(1, rows / (4 * mr));
  for (std::int64_t c = fewest; c <= std::min(slivers, fewest + 2 * threads); ++c)
    for (std::int64_t rb = 1; rb <= std::min(max_row_blocks, 4 * threads); ++rb) {
      const ConvPartition p = plan(c, rb);
      candidates.emplace_back(p, busiest(p));
    }
  double least = candidates.front().second;
  for (const auto& c : candidates) least = std::min(least, c.second);
  std::int64_t fewest_tasks = -1;
  double best_load = 0.0;
  for (const auto& [p, load] : candidates) {
    const std::int64_t tasks = p.chunks * p.row_blocks;
    if (load > least * 1.03) continue;
    if (fewest_tasks < 0 || tasks < fewest_tasks || (tasks == fewest_tasks && load < best_load))
      best = p, fewest_tasks = tasks, best_load = load;
  }
  return best;
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
  const detail::ConvPartition part = detail::conv_partition(n_batch * groups, plane, og, kdim, !pointwise, threads);
  const std::int64_t chunk = part.chunk, chunks = part.chunks, row_blocks = part.row_blocks;
  const std::int64_t rows_per_block = part.rows_per_block, tasks = n_batch * groups * chunks * row_blocks;
  const std::int64_t mr = detail::packed::mr;

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
    detail::Im2colScratch& scratch = detail::im2col_scratch();
    std::int64_t im2col_done = -1;  // the block whose columns `col` holds: row blocks of one block share them
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
      float* const block_out = dst + r0 * plane + c0;
      // The epilogue runs on each MC-row panel of the block as soon as it is complete, while it is
      // in L2: after the whole block (up to 3 MB for ResNet-50's 1×1 expansions at 56×56) it read
      // the output back from memory; per register tile, the residual's rows came a tile at a time.
      const auto epilogue_panel = [&](std::int64_t i, std::int64_t rows, std::int64_t j, std::int64_t n) {
        detail::conv_epilogue(dst, rd ? rd + out_offset : nullptr, plane, r0 + i, r0 + i + rows, c0 + j, c0 + j + n,
                              bd ? bd + g * og : nullptr, act);
      };
      if (pointwise) {
        detail::packed_gemm(r1 - r0, cols, a, r0, {src + c0, plane, 1}, block_out, plane, epilogue_panel);
      } else {
        if (im2col_done != rest) detail::im2col_packed(src, cg, geo, c0, cols, col, scratch);
        im2col_done = rest;
        detail::packed_gemm(r1 - r0, cols, a, r0, detail::packed::PackedB{col, kdim, cols}, 0, block_out, plane,
                            epilogue_panel);
      }
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

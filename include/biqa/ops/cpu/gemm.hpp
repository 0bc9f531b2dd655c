#pragma once
/// @file
/// Matrix products on the CPU: matmul (batched, with broadcasting of the batch axes) and linear
/// (x·Wᵀ + b with PyTorch's [out, in] weight layout), on the packed kernel of packed_gemm.hpp. The
/// work is split into row or column blocks across ctx.resolved_threads() threads.

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::ops {

namespace detail {

/// A matrix operand in memory: element (i, j) lies at data[i * ld + j], or at data[j * ld + i] when
/// `transposed` (the transpose of a row-major matrix, e.g. a Linear weight used as Wᵀ).
struct GemmOperand {
  const float* data = nullptr;
  std::int64_t rows = 0, cols = 0, ld = 0;
  bool transposed = false;
};

/// Describes a strided rank-2 view as an operand; false when neither axis has unit stride.
inline bool as_operand(const float* data, std::int64_t rows, std::int64_t cols,
                       std::int64_t row_stride, std::int64_t col_stride, GemmOperand& op) {
  if (col_stride == 1 || cols == 1) {
    op = {data, rows, cols, row_stride, false};
    return true;
  }
  if (row_stride == 1 || rows == 1) {
    op = {data, rows, cols, col_stride, true};
    return true;
  }
  return false;
}

/// Epilogue terms added after the product: bias per output column (Linear) or per row (conv).
struct GemmBias {
  const float* per_col = nullptr;
  const float* per_row = nullptr;
};

/// out[r0:r1, c0:c1] += the bias terms.
inline void add_bias(float* out, std::int64_t ldo, std::int64_t r0, std::int64_t r1, std::int64_t c0,
                     std::int64_t c1, GemmBias bias) {
  for (std::int64_t i = r0; i < r1 && (bias.per_col || bias.per_row); ++i) {
    float* row = out + i * ldo;
    if (bias.per_col)
      for (std::int64_t j = c0; j < c1; ++j) row[j] += bias.per_col[j];
    if (bias.per_row)
      for (std::int64_t j = c0; j < c1; ++j) row[j] += bias.per_row[i];
  }
}

/// add_bias on one whole MR × NR register tile, in packets (per-row loops of NR floats cost more
/// than they add).
inline void add_bias_tile(float* out, std::int64_t ldo, const float* per_col) {
  using namespace Eigen::internal;
  using Packet = packed::Packet;
  constexpr std::int64_t ps = packed::packet_size;
  Packet b[packed::nr / ps];
  for (std::int64_t v = 0; v < packed::nr / ps; ++v) b[v] = ploadu<Packet>(per_col + v * ps);
  for (std::int64_t i = 0; i < packed::mr; ++i)
    for (std::int64_t v = 0; v < packed::nr / ps; ++v) {
      float* at = out + i * ldo + v * ps;
      pstoreu(at, padd(ploadu<Packet>(at), b[v]));
    }
}

/// out[r0:r1, c0:c1] = A[r0:r1, :] · B[:, c0:c1] (+ bias); `out` is row-major with leading dim ldo.
/// A must not be transposed (callers make it row-major); B may be.
inline void gemm_block(const GemmOperand& a, const GemmOperand& b, float* out, std::int64_t ldo,
                       std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1,
                       GemmBias bias = {}) {
  const std::int64_t m = r1 - r0, n = c1 - c0, k = a.cols;
  if (m <= 0 || n <= 0) return;
  const packed::StridedMatrix am{a.data + r0 * a.ld, a.ld, 1};
  const packed::StridedMatrix bm = b.transposed ? packed::StridedMatrix{b.data + c0 * b.ld, 1, b.ld}
                                                : packed::StridedMatrix{b.data + c0, b.ld, 1};
  packed_gemm(m, n, k, am, bm, out + r0 * ldo + c0, ldo);
  add_bias(out, ldo, r0, r1, c0, c1, bias);
}

/// Minimum multiply-adds worth a thread of their own.
inline constexpr std::int64_t gemm_grain = std::int64_t(1) << 17;

/// Splits out[0:m, 0:n] into row or column blocks across the context's threads, blocks aligned to
/// the kernel's register tile; block(r0, r1, c0, c1) computes one. Every block packs the whole of
/// the operand that is not split, so the split is along the side whose packing would cost more to
/// repeat: rows when B [k, n] is the smaller, columns otherwise (a 197-token ViT product with an
/// unpacked 384×1152 weight packed it on both threads before). A B packed beforehand (`b_packed`)
/// costs nothing to share and A is small next to it, so either split will do, and the one whose
/// busiest thread has the fewer register tiles is taken: 50 tokens are 9 MR-row slivers, 5 and 4 on
/// two threads, where 3072 columns are 48 and 48 NR-column slivers.
template <typename Block>
inline void split_product(std::int64_t m, std::int64_t n, std::int64_t k, const Context& ctx, Block&& block,
                          bool b_packed = false) {
  const int workers = worker_count(ctx, m * n * std::max<std::int64_t>(k, 1), gemm_grain);
  if (workers == 1) {
    block(0, m, 0, n);
    return;
  }
  const auto slivers = [](std::int64_t extent, std::int64_t width) { return (extent + width - 1) / width; };
  const auto busiest = [&](std::int64_t split_slivers, std::int64_t other_slivers) {
    return slivers(split_slivers, workers) * other_slivers;
  };
  const bool by_rows = b_packed ? busiest(slivers(m, packed::mr), slivers(n, packed::nr)) <=
                                      busiest(slivers(n, packed::nr), slivers(m, packed::mr))
                                : m >= n;
  const std::int64_t extent = by_rows ? m : n;
  const std::int64_t align = by_rows ? packed::mr : packed::nr;
  const std::int64_t blocks = (extent + align - 1) / align;
  parallel_for(ctx, blocks, (blocks + workers - 1) / workers, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t lo = b0 * align, hi = std::min(extent, b1 * align);
    if (by_rows)
      block(lo, hi, 0, n);
    else
      block(0, m, lo, hi);
  });
}

/// Up to this many rows, linear() takes dot products against the weight rows in place instead of
/// packing the weight: packing reads and writes the whole weight, which a product with a few rows
/// reads only once (ResNet-50's classifier at batch 1: 2048×1000 weights, packing was 4-5% of the
/// forward).
inline constexpr std::int64_t linear_dot_rows = 4;

/// out[r, j] = x[r, :] · w[j, :] (+ bias[j]) for rows ≤ linear_dot_rows; w row-major [out, in].
/// Each weight row is read once and stays in cache for every input row. Threads split the outputs.
inline void linear_dot(const float* x, std::int64_t rows, const float* w, std::int64_t in,
                       std::int64_t out_features, const float* bias, float* out, const Context& ctx) {
  using Row = Eigen::Map<const Eigen::VectorXf>;
  const std::int64_t grain = std::max<std::int64_t>(1, gemm_grain / std::max<std::int64_t>(rows * in, 1));
  parallel_for(ctx, out_features, grain, [&](std::int64_t j0, std::int64_t j1) {
    for (std::int64_t j = j0; j < j1; ++j) {
      const Row wj(w + j * in, in);
      for (std::int64_t r = 0; r < rows; ++r) {
        const float dot = in > 0 ? wj.dot(Row(x + r * in, in)) : 0.0f;
        out[r * out_features + j] = bias ? dot + bias[j] : dot;
      }
    }
  });
}

/// The full product across the context's threads.
inline void gemm(const GemmOperand& a, const GemmOperand& b, float* out, std::int64_t ldo,
                 const Context& ctx, GemmBias bias = {}) {
  BIQA_CHECK(a.cols == b.rows, ErrorCode::internal, "gemm: inner extents ", a.cols, " and ", b.rows);
  split_product(a.rows, b.cols, a.cols, ctx, [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
    gemm_block(a, b, out, ldo, r0, r1, c0, c1, bias);
  });
}

}  // namespace detail

/// torch.matmul for operands of rank ≥ 2: [..., M, K] · [..., K, N] → [..., M, N], the batch axes
/// broadcast. Any strides are accepted; transposed views (x.transpose(-1, -2)) are used in place.
inline Tensor<float> matmul(const Tensor<float>& a_in, const Tensor<float>& b_in, Context& ctx) {
  BIQA_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2, ErrorCode::invalid_argument,
             "matmul needs operands of rank >= 2, got ", a_in.shape().to_string(), " and ",
             b_in.shape().to_string());
  const std::int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  BIQA_CHECK(b_in.size(-2) == k, ErrorCode::invalid_argument, "matmul: ", a_in.shape().to_string(),
             " · ", b_in.shape().to_string(), " (inner extents ", k, " and ", b_in.size(-2), ")");
  Tensor<float> a = (a_in.stride(-1) == 1 || k == 1) ? a_in : a_in.contiguous();
  Tensor<float> b = (b_in.stride(-1) == 1 || b_in.stride(-2) == 1) ? b_in : b_in.contiguous();

  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(a_batch, b_batch);
  std::vector<std::int64_t> out_dims = batch.to_vector();
  out_dims.push_back(m);
  out_dims.push_back(n);
  Tensor<float> out{Shape(out_dims)};
  const std::int64_t nb = batch.numel();
  if (out.numel() == 0) return out;

  // Element offsets of every batch entry in a and b (stride 0 along broadcast axes).
  auto offsets = [&](const Tensor<float>& t, const Shape& own) {
    std::vector<std::int64_t> dims = batch.to_vector();
    dims.push_back(1);
    dims.push_back(1);
    std::vector<std::int64_t> own_dims = own.to_vector();
    own_dims.push_back(1);
    own_dims.push_back(1);
    Tensor<float> base = Tensor<float>::borrow(nullptr, Shape(own_dims), t.strides());
    std::vector<std::int64_t> offs;
    offs.reserve(static_cast<std::size_t>(nb));
    broadcast_to(base, Shape(dims)).for_each_offset([&](std::int64_t o) { offs.push_back(o); });
    return offs;
  };
  const auto a_off = offsets(a, a_batch), b_off = offsets(b, b_batch);

  auto operand = [](const Tensor<float>& t, std::int64_t off) {
    detail::GemmOperand op;
    const bool ok = detail::as_operand(t.data() + off, t.size(-2), t.size(-1), t.stride(-2),
                                       t.stride(-1), op);
    BIQA_CHECK(ok, ErrorCode::internal, "matmul operand without a unit stride");
    return op;
  };

  if (nb >= ctx.resolved_threads() && nb > 1) {
    Context serial(1);
    parallel_for(ctx, nb, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i)
        detail::gemm(operand(a, a_off[static_cast<std::size_t>(i)]),
                     operand(b, b_off[static_cast<std::size_t>(i)]), out.data() + i * m * n, n, serial);
    });
  } else {
    for (std::int64_t i = 0; i < nb; ++i)
      detail::gemm(operand(a, a_off[static_cast<std::size_t>(i)]),
                   operand(b, b_off[static_cast<std::size_t>(i)]), out.data() + i * m * n, n, ctx);
  }
  return out;
}

/// torch.nn.functional.linear: x [..., in] · weightᵀ ([out, in]) + bias ([out], optional: pass an
/// undefined tensor) → [..., out].
inline Tensor<float> linear(const Tensor<float>& x_in, const Tensor<float>& weight,
                            const Tensor<float>& bias, Context& ctx) {
  BIQA_CHECK(weight.dim() == 2, ErrorCode::invalid_argument, "linear: weight must be [out, in], got ",
             weight.shape().to_string());
  const std::int64_t in = weight.size(1), out_features = weight.size(0);
  BIQA_CHECK(x_in.dim() >= 1 && x_in.size(-1) == in, ErrorCode::invalid_argument, "linear: input ",
             x_in.shape().to_string(), " does not end in ", in, " features (weight ",
             weight.shape().to_string(), ")");
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features),
             ErrorCode::invalid_argument, "linear: bias ", bias.shape().to_string(), " for ",
             out_features, " outputs");
  const Tensor<float> x = x_in.contiguous();
  const Tensor<float> w = weight.contiguous();
  const Tensor<float> b = bias.defined() ? bias.contiguous() : bias;
  std::vector<std::int64_t> dims = x.shape().to_vector();
  dims.back() = out_features;
  Tensor<float> out{Shape(dims)};
  std::int64_t rows = 1;
  for (int i = 0; i + 1 < x.dim(); ++i) rows *= x.size(i);
  if (out.numel() == 0) return out;
  if (rows <= detail::linear_dot_rows) {
    detail::linear_dot(x.data(), rows, w.data(), in, out_features, b.defined() ? b.data() : nullptr, out.data(), ctx);
    return out;
  }
  const detail::GemmOperand a{x.data(), rows, in, in, false};
  const detail::GemmOperand wt{w.data(), in, out_features, in, true};
  detail::gemm(a, wt, out.data(), out_features, ctx, {b.defined() ? b.data() : nullptr, nullptr});
  return out;
}

/// A Linear weight [out, in] packed once for the GEMM kernel (as the B operand Wᵀ), so that every
/// call skips the repacking; products with 50–200 rows (a ViT's tokens) run 25–70% faster this way.
/// It is a copy: layers keep one as Context::weight_packing says, see PackedOnce.
class PackedLinearWeight {
 public:
  PackedLinearWeight() = default;
  explicit PackedLinearWeight(const Tensor<float>& weight) {
    BIQA_CHECK(weight.dim() == 2, ErrorCode::invalid_argument, "linear: weight must be [out, in], got ",
               weight.shape().to_string());
    in_ = weight.size(1);
    out_ = weight.size(0);
    const Tensor<float> w = weight.contiguous();
    const std::int64_t size = std::max<std::int64_t>(detail::packed::packed_b_size(in_, out_), 1);
    auto memory = DeviceAllocator<Cpu>::allocate_long_lived(static_cast<std::size_t>(size) * sizeof(float));
    float* at = static_cast<float*>(memory.get());  // before the move below: argument order is unspecified
    data_ = Tensor<float>::borrow(at, Shape{size}, std::move(memory));
    detail::packed::pack_b_whole({w.data(), 1, in_}, in_, out_, data_.data());
  }
  bool defined() const { return data_.defined(); }
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  detail::packed::PackedB operand() const { return {data_.data(), in_, out_}; }

  /// The weight [out, in] again (exact: packing only moves values).
  Tensor<float> unpack() const {
    Tensor<float> w({out_, in_});
    constexpr std::int64_t nr = detail::packed::nr;
    for (std::int64_t o = 0; o < out_; ++o)
      for (std::int64_t i = 0; i < in_; ++i) w.data()[o * in_ + i] = data_.data()[(o / nr) * in_ * nr + i * nr + o % nr];
    return w;
  }

 private:
  Tensor<float> data_;
  std::int64_t in_ = 0, out_ = 0;
};

/// linear() with a packed weight: x [..., in] → [..., out]. With `first_output` and `outputs`, only
/// those rows of the weight (outputs [first_output, first_output + outputs); `bias` is then theirs):
/// the q, k or v part of a fused in-projection.
inline Tensor<float> linear(const Tensor<float>& x_in, const PackedLinearWeight& weight, const Tensor<float>& bias,
                            Context& ctx, std::int64_t first_output = 0, std::int64_t outputs = -1) {
  BIQA_CHECK(weight.defined(), ErrorCode::invalid_argument, "linear: empty packed weight");
  if (outputs < 0) outputs = weight.out_features() - first_output;
  BIQA_CHECK(first_output >= 0 && first_output + outputs <= weight.out_features(), ErrorCode::invalid_argument,
             "linear: outputs [", first_output, ", ", first_output + outputs, ") of a weight with ",
             weight.out_features());
  if (first_output % detail::packed::nr != 0)  // not on a sliver boundary: take those rows unpacked
    return linear(x_in, weight.unpack().slice(0, first_output, first_output + outputs), bias, ctx);
  const std::int64_t in = weight.in_features(), out_features = outputs;
  BIQA_CHECK(x_in.dim() >= 1 && x_in.size(-1) == in, ErrorCode::invalid_argument, "linear: input ",
             x_in.shape().to_string(), " does not end in ", in, " features (weight [", out_features, ", ", in, "])");
  BIQA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features),
             ErrorCode::invalid_argument, "linear: bias ", bias.shape().to_string(), " for ",
             out_features, " outputs");
  const Tensor<float> x = x_in.contiguous();
  const Tensor<float> b = bias.defined() ? bias.contiguous() : bias;
  std::vector<std::int64_t> dims = x.shape().to_vector();
  dims.back() = out_features;
  Tensor<float> out{Shape(dims)};
  if (out.numel() == 0) return out;
  const std::int64_t rows = out.numel() / out_features;
  const float* const bias_data = b.defined() ? b.data() : nullptr;
  const detail::packed::PackedB wp = weight.operand();
  detail::split_product(rows, out_features, in, ctx, [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
    float* const block_out = out.data() + r0 * out_features + c0;
    const float* const block_bias = bias_data ? bias_data + c0 : nullptr;
    // The bias is added to each tile as the kernel completes it, while it is in L1.
    const auto finish = [&](std::int64_t i, std::int64_t n_rows, std::int64_t j, std::int64_t n) {
      if (!block_bias) return;
      if (n_rows == detail::packed::mr && n == detail::packed::nr)
        detail::add_bias_tile(block_out + i * out_features + j, out_features, block_bias + j);
      else
        detail::add_bias(block_out, out_features, i, i + n_rows, j, j + n, {block_bias, nullptr});
    };
    detail::packed_gemm(r1 - r0, c1 - c0, {x.data() + r0 * in, in, 1}, wp, first_output + c0, block_out, out_features,
                        finish);
  }, /*b_packed=*/true);
  return out;
}

/// A layer's packed weight, made on first use and then shared; safe to call from several threads.
class PackedOnce {
 public:
  const PackedLinearWeight& get(const Tensor<float>& weight) {
    return get(weight, [] {});
  }
  /// As get(weight); `after_packing` runs once, right after the copy is made (a layer gives the
  /// source's pages back there).
  template <typename AfterPacking>
  const PackedLinearWeight& get(const Tensor<float>& weight, AfterPacking&& after_packing) {
    std::call_once(once_, [&] {
      packed_ = PackedLinearWeight(weight);
      after_packing();
      made_.store(true, std::memory_order_release);
    });
    return packed_;
  }
  /// True once the packed copy exists.
  bool made() const { return made_.load(std::memory_order_acquire); }

 private:
  std::once_flag once_;
  PackedLinearWeight packed_;
  std::atomic<bool> made_{false};
};

}  // namespace biqa::ops

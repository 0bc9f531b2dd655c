#pragma once
/// @file
/// Element-wise arithmetic with NumPy/PyTorch broadcasting (add, sub, mul, div), scalar variants,
/// and in-place forms that broadcast the right operand into the left one (residuals, biases,
/// LayerScale).

#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

namespace detail {

template <BinaryOp Op>
inline float apply_binary(float a, float b) {
  if constexpr (Op == BinaryOp::add) return a + b;
  if constexpr (Op == BinaryOp::sub) return a - b;
  if constexpr (Op == BinaryOp::mul) return a * b;
  if constexpr (Op == BinaryOp::div) return a / b;
}

/// out (contiguous, shape S) = a ∘ b where a and b are views of shape S (any strides, 0 allowed).
/// Rows along the last axis are the unit of work.
template <BinaryOp Op>
void binary_into(float* out, const Tensor<float>& a, const Tensor<float>& b, const Context& ctx) {
  const Shape& s = a.shape();
  const std::int64_t total = s.numel();
  if (total == 0) return;
  if (a.is_contiguous() && b.is_contiguous()) {
    const float* pa = a.data();
    const float* pb = b.data();
    parallel_for(ctx, total, std::int64_t(1) << 15, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) out[i] = apply_binary<Op>(pa[i], pb[i]);
    });
    return;
  }
  const int r = s.rank();
  const std::int64_t inner = r ? s[r - 1] : 1;
  const std::int64_t rows = total / inner;
  const std::int64_t sa = r ? a.stride(-1) : 0, sb = r ? b.stride(-1) : 0;
  parallel_for(ctx, rows, std::max<std::int64_t>(1, (std::int64_t(1) << 15) / inner),
               [&](std::int64_t r0, std::int64_t r1) {
                 for (std::int64_t row = r0; row < r1; ++row) {
                   // Offsets of this row's first element in a and b.
                   std::int64_t oa = 0, ob = 0, rem = row;
                   for (int d = r - 2; d >= 0; --d) {
                     const std::int64_t i = rem % s[d];
                     rem /= s[d];
                     oa += i * a.stride(d);
                     ob += i * b.stride(d);
                   }
                   const float* pa = a.data() + oa;
                   const float* pb = b.data() + ob;
                   float* po = out + row * inner;
                   if (sa == 1 && sb == 1) {
                     for (std::int64_t j = 0; j < inner; ++j) po[j] = apply_binary<Op>(pa[j], pb[j]);
                   } else if (sa == 1 && sb == 0) {
                     const float v = *pb;
                     for (std::int64_t j = 0; j < inner; ++j) po[j] = apply_binary<Op>(pa[j], v);
                   } else {
                     for (std::int64_t j = 0; j < inner; ++j) po[j] = apply_binary<Op>(pa[j * sa], pb[j * sb]);
                   }
                 }
               });
}

template <BinaryOp Op>
Tensor<float> binary(const Tensor<float>& a, const Tensor<float>& b, const Context& ctx) {
  const Shape s = broadcast_shapes(a.shape(), b.shape());
  Tensor<float> out(s);
  binary_into<Op>(out.data(), broadcast_to(a, s), broadcast_to(b, s), ctx);
  return out;
}

template <BinaryOp Op>
void binary_inplace(Tensor<float>& a, const Tensor<float>& b, const Context& ctx) {
  BIQA_CHECK(a.is_contiguous(), ErrorCode::invalid_argument, "in-place arithmetic needs a contiguous left operand");
  BIQA_CHECK(broadcast_shapes(a.shape(), b.shape()) == a.shape(), ErrorCode::invalid_argument,
             "in-place arithmetic: ", b.shape().to_string(), " does not broadcast into ", a.shape().to_string());
  binary_into<Op>(a.data(), a, broadcast_to(b, a.shape()), ctx);
}

template <BinaryOp Op>
Tensor<float> binary_scalar(const Tensor<float>& a, float s, const Context& ctx) {
  Tensor<float> out = a.clone();
  float* d = out.data();
  parallel_for(ctx, out.numel(), std::int64_t(1) << 15, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) d[i] = apply_binary<Op>(d[i], s);
  });
  return out;
}

}  // namespace detail

/// a ∘ b with broadcasting → a new tensor of the broadcast shape.
inline Tensor<float> add(const Tensor<float>& a, const Tensor<float>& b, Context& ctx) { return detail::binary<BinaryOp::add>(a, b, ctx); }
inline Tensor<float> sub(const Tensor<float>& a, const Tensor<float>& b, Context& ctx) { return detail::binary<BinaryOp::sub>(a, b, ctx); }
inline Tensor<float> mul(const Tensor<float>& a, const Tensor<float>& b, Context& ctx) { return detail::binary<BinaryOp::mul>(a, b, ctx); }
inline Tensor<float> div(const Tensor<float>& a, const Tensor<float>& b, Context& ctx) { return detail::binary<BinaryOp::div>(a, b, ctx); }

/// a ∘= b, b broadcast into a's shape; a must be contiguous.
inline void add_inplace(Tensor<float>& a, const Tensor<float>& b, Context& ctx) { detail::binary_inplace<BinaryOp::add>(a, b, ctx); }
inline void sub_inplace(Tensor<float>& a, const Tensor<float>& b, Context& ctx) { detail::binary_inplace<BinaryOp::sub>(a, b, ctx); }
inline void mul_inplace(Tensor<float>& a, const Tensor<float>& b, Context& ctx) { detail::binary_inplace<BinaryOp::mul>(a, b, ctx); }
inline void div_inplace(Tensor<float>& a, const Tensor<float>& b, Context& ctx) { detail::binary_inplace<BinaryOp::div>(a, b, ctx); }

/// a ∘ s for a scalar s.
inline Tensor<float> add(const Tensor<float>& a, float s, Context& ctx) { return detail::binary_scalar<BinaryOp::add>(a, s, ctx); }
inline Tensor<float> sub(const Tensor<float>& a, float s, Context& ctx) { return detail::binary_scalar<BinaryOp::sub>(a, s, ctx); }
inline Tensor<float> mul(const Tensor<float>& a, float s, Context& ctx) { return detail::binary_scalar<BinaryOp::mul>(a, s, ctx); }
inline Tensor<float> div(const Tensor<float>& a, float s, Context& ctx) { return detail::binary_scalar<BinaryOp::div>(a, s, ctx); }

}  // namespace biqa::ops

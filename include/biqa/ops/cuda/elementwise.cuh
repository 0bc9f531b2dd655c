#pragma once
/// @file
/// Elementwise ops on device tensors: add, sub, mul and div with PyTorch's broadcasting (operands of
/// any layout), the same with a scalar, and every activation of ops::Activation (GELU erf and tanh
/// forms, QuickGELU, ReLU, SiLU, sigmoid, SELU, tanh) and PReLU. Each thread runs a
/// body the CPU test suite checks (bodies::binary_value, bodies::activation_value; in float, and
/// CUDA's expf, erff and tanhf differ from the host's by a few ulp, within docs/cuda.md's tolerance).

#include <cstdint>

#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/ops/cuda/bodies/activation.hpp"
#include "biqa/ops/cuda/bodies/strided.hpp"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/options.hpp"

namespace biqa::cuda {

using ops::Activation;
using ops::BinaryOp;

namespace kernels {
/// out (contiguous) = a ∘ b, the operands read through their broadcast layouts.
template <BinaryOp op>
__global__ void binary(const float* a, const float* b, float* out, bodies::Layout la, bodies::Layout lb, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bodies::binary_value(op, a[bodies::offset_of(la, i)], b[bodies::offset_of(lb, i)]);
}
/// Both operands contiguous and of the output's shape: no index arithmetic.
template <BinaryOp op>
__global__ void binary_dense(const float* a, const float* b, float* out, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) out[i] = bodies::binary_value(op, a[i], b[i]);
}
/// x [lines of `inner` elements], line l in channel l % channels (one slope when channels is 1).
static __global__ void prelu(const float* x, const float* slope, float* out, std::int64_t n, std::int64_t inner,
                             std::int64_t channels) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = bodies::prelu_value(x[i], slope[channels == 1 ? 0 : (i / inner) % channels]);
}
template <BinaryOp op>
__global__ void binary_scalar(const float* a, float s, float* out, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) out[i] = bodies::binary_value(op, a[i], s);
}
/// The activation is a template argument so that each kernel is one straight formula.
template <Activation act>
__global__ void activate(const float* x, float* out, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) out[i] = bodies::activation_value(act, x[i]);
}
template <Activation act>
void launch_activate(const float* x, float* out, std::int64_t n) {
  activate<act><<<blocks_for(n), 256, 0, stream()>>>(x, out, n);
}
}  // namespace kernels

namespace detail {
inline void require_contiguous(const Tensor<float, Cuda>& t, const char* op) {
  BIQA_CHECK(t.is_contiguous(), ErrorCode::invalid_argument, "cuda::", op, ": a contiguous tensor, got ",
             t.shape().to_string(), " with other strides");
}
/// A per-channel parameter (a norm's weight, bias or statistics): undefined, or contiguous [channels].
inline void require_channel_param(const char* op, const Tensor<float, Cuda>& p, std::int64_t channels, const char* what) {
  BIQA_CHECK(!p.defined() || (p.dim() == 1 && p.size(0) == channels && p.is_contiguous()), ErrorCode::invalid_argument,
             "cuda::", op, ": ", what, " must be [", channels, "], got ", p.shape().to_string());
}
/// An optional tensor's data for a kernel: null when undefined.
inline const float* data_or_null(const Tensor<float, Cuda>& t) { return t.defined() ? t.data() : nullptr; }
}  // namespace detail

namespace detail {
template <BinaryOp op>
Tensor<float, Cuda> binary(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b, const char* name) {
  const Shape shape = ops::broadcast_shapes(a.shape(), b.shape());
  Tensor<float, Cuda> out(shape);
  const std::int64_t n = out.numel();
  if (n == 0) return out;
  if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous())
    kernels::binary_dense<op><<<blocks_for(n), 256, 0, stream()>>>(a.data(), b.data(), out.data(), n);
  else
    kernels::binary<op><<<blocks_for(n), 256, 0, stream()>>>(a.data(), b.data(), out.data(), layout_as(a, shape),
                                                            layout_as(b, shape), n);
  check_launch(name);
  return out;
}
/// a ∘= b: a contiguous, b broadcast to a's shape (each thread reads a[i] before writing it).
template <BinaryOp op>
void binary_inplace(Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b, const char* name) {
  require_contiguous(a, name);
  const std::int64_t n = a.numel();
  if (n == 0) return;
  if (b.shape() == a.shape() && b.is_contiguous())
    kernels::binary_dense<op><<<blocks_for(n), 256, 0, stream()>>>(a.data(), b.data(), a.data(), n);
  else
    kernels::binary<op><<<blocks_for(n), 256, 0, stream()>>>(a.data(), b.data(), a.data(), layout_as(a, a.shape()),
                                                            layout_as(b, a.shape()), n);
  check_launch(name);
}
template <BinaryOp op>
Tensor<float, Cuda> binary_scalar(const Tensor<float, Cuda>& a_in, float s, const char* name) {
  const Tensor<float, Cuda> a = contiguous(a_in);
  Tensor<float, Cuda> out(a.shape());
  if (a.numel() == 0) return out;
  kernels::binary_scalar<op><<<blocks_for(a.numel()), 256, 0, stream()>>>(a.data(), s, out.data(), a.numel());
  check_launch(name);
  return out;
}
}  // namespace detail

/// a + b, a − b, a · b, a / b with broadcasting (ops::add ... on the device).
inline Tensor<float, Cuda> add(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  return detail::binary<BinaryOp::add>(a, b, "add");
}
inline Tensor<float, Cuda> sub(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  return detail::binary<BinaryOp::sub>(a, b, "sub");
}
inline Tensor<float, Cuda> mul(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  return detail::binary<BinaryOp::mul>(a, b, "mul");
}
inline Tensor<float, Cuda> div(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  return detail::binary<BinaryOp::div>(a, b, "div");
}
/// a ∘= b in place (ops::add_inplace ... on the device): a contiguous, b broadcasting to a's shape.
inline void add_inplace(Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  detail::binary_inplace<BinaryOp::add>(a, b, "add_inplace");
}
inline void sub_inplace(Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  detail::binary_inplace<BinaryOp::sub>(a, b, "sub_inplace");
}
inline void mul_inplace(Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  detail::binary_inplace<BinaryOp::mul>(a, b, "mul_inplace");
}
inline void div_inplace(Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  detail::binary_inplace<BinaryOp::div>(a, b, "div_inplace");
}
inline Tensor<float, Cuda> add(const Tensor<float, Cuda>& a, float s) { return detail::binary_scalar<BinaryOp::add>(a, s, "add"); }
inline Tensor<float, Cuda> sub(const Tensor<float, Cuda>& a, float s) { return detail::binary_scalar<BinaryOp::sub>(a, s, "sub"); }
inline Tensor<float, Cuda> mul(const Tensor<float, Cuda>& a, float s) { return detail::binary_scalar<BinaryOp::mul>(a, s, "mul"); }
inline Tensor<float, Cuda> div(const Tensor<float, Cuda>& a, float s) { return detail::binary_scalar<BinaryOp::div>(a, s, "div"); }

namespace detail {
/// out = activation(x) over n contiguous elements; out may be x.
inline void activate_into(const float* x, float* out, std::int64_t n, Activation a) {
  if (n == 0) return;
  switch (a) {
    case Activation::identity: kernels::launch_activate<Activation::identity>(x, out, n); break;
    case Activation::relu: kernels::launch_activate<Activation::relu>(x, out, n); break;
    case Activation::gelu: kernels::launch_activate<Activation::gelu>(x, out, n); break;
    case Activation::gelu_tanh: kernels::launch_activate<Activation::gelu_tanh>(x, out, n); break;
    case Activation::quick_gelu: kernels::launch_activate<Activation::quick_gelu>(x, out, n); break;
    case Activation::silu: kernels::launch_activate<Activation::silu>(x, out, n); break;
    case Activation::sigmoid: kernels::launch_activate<Activation::sigmoid>(x, out, n); break;
    case Activation::selu: kernels::launch_activate<Activation::selu>(x, out, n); break;
    case Activation::tanh: kernels::launch_activate<Activation::tanh>(x, out, n); break;
  }
  check_launch(ops::activation_name(a));
}
}  // namespace detail

/// activation(x) elementwise (ops::activate on the device).
inline Tensor<float, Cuda> activate(const Tensor<float, Cuda>& x_in, Activation a) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  Tensor<float, Cuda> out(x.shape());
  detail::activate_into(x.data(), out.data(), x.numel(), a);
  return out;
}
/// activation(x) in place on a contiguous x (ops::activate_inplace on the device).
inline void activate_inplace(Tensor<float, Cuda>& x, Activation a) {
  detail::require_contiguous(x, "activate_inplace");
  detail::activate_into(x.data(), x.data(), x.numel(), a);
}

/// PReLU: one slope, or one per channel (axis 1), as ops::prelu.
inline Tensor<float, Cuda> prelu(const Tensor<float, Cuda>& x_in, const Tensor<float, Cuda>& weight) {
  const Tensor<float, Cuda> x = contiguous(x_in);  // row-major for the kernel
  const std::int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
  BIQA_CHECK(weight.numel() == 1 || weight.numel() == channels, ErrorCode::invalid_argument, "cuda::prelu: ",
             weight.numel(), " weights for input ", x.shape().to_string(), " (expected 1 or ", channels, ")");
  const Tensor<float, Cuda> w = contiguous(weight);
  Tensor<float, Cuda> out(x.shape());
  if (x.numel() == 0) return out;
  std::int64_t inner = 1;
  for (int i = 2; i < x.dim(); ++i) inner *= x.size(i);
  kernels::prelu<<<blocks_for(x.numel()), 256, 0, stream()>>>(x.data(), w.data(), out.data(), x.numel(),
                                                             inner > 0 ? inner : 1, w.numel() == 1 ? 1 : channels);
  check_launch("prelu");
  return out;
}

inline Tensor<float, Cuda> relu(const Tensor<float, Cuda>& x) { return activate(x, Activation::relu); }
/// 0.5·x·(1 + erf(x/√2)), or the tanh approximation.
inline Tensor<float, Cuda> gelu(const Tensor<float, Cuda>& x, bool tanh_approximation = false) {
  return activate(x, tanh_approximation ? Activation::gelu_tanh : Activation::gelu);
}
/// x·sigmoid(1.702·x) (open_clip's QuickGELU).
inline Tensor<float, Cuda> quick_gelu(const Tensor<float, Cuda>& x) { return activate(x, Activation::quick_gelu); }
inline Tensor<float, Cuda> silu(const Tensor<float, Cuda>& x) { return activate(x, Activation::silu); }
inline Tensor<float, Cuda> sigmoid(const Tensor<float, Cuda>& x) { return activate(x, Activation::sigmoid); }
inline Tensor<float, Cuda> selu(const Tensor<float, Cuda>& x) { return activate(x, Activation::selu); }

}  // namespace biqa::cuda

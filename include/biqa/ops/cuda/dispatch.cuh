#pragma once
/// @file
/// ops:: for device tensors: overloads of the CPU ops' names and signatures (ops/cpu.hpp) that take
/// Tensor<float, Cuda> and run the CUDA kernels, so code written once against ops:: (a layer, a
/// block) runs on whichever device its tensors are on; overload resolution is the dispatch.
/// Including this header brings both backends into the translation unit (nvcc only).
///
/// The view helpers of ops/cpu/shape_ops.hpp (broadcast_to, split, chunk, flatten,
/// permute_contiguous) are templates over the device and need no overload here. Packed weights are
/// a CPU layout: layers use them on the CPU only.

#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/ops/cpu.hpp"
#include "biqa/ops/cuda.cuh"
#include "biqa/ops/options.hpp"

#ifdef BIQA_NN_DEVICE_LAYERS
#error "include biqa/ops/cuda/dispatch.cuh (or biqa/cuda.cuh) before the nn and model headers: their forwards call ops:: by qualified name, which sees only the overloads declared before them"
#endif

namespace biqa::ops {

using DeviceTensor = Tensor<float, Cuda>;

// Elementwise.
inline DeviceTensor add(const DeviceTensor& a, const DeviceTensor& b, Context&) { return cuda::add(a, b); }
inline DeviceTensor sub(const DeviceTensor& a, const DeviceTensor& b, Context&) { return cuda::sub(a, b); }
inline DeviceTensor mul(const DeviceTensor& a, const DeviceTensor& b, Context&) { return cuda::mul(a, b); }
inline DeviceTensor div(const DeviceTensor& a, const DeviceTensor& b, Context&) { return cuda::div(a, b); }
inline void add_inplace(DeviceTensor& a, const DeviceTensor& b, Context&) { cuda::add_inplace(a, b); }
inline void sub_inplace(DeviceTensor& a, const DeviceTensor& b, Context&) { cuda::sub_inplace(a, b); }
inline void mul_inplace(DeviceTensor& a, const DeviceTensor& b, Context&) { cuda::mul_inplace(a, b); }
inline void div_inplace(DeviceTensor& a, const DeviceTensor& b, Context&) { cuda::div_inplace(a, b); }
inline DeviceTensor add(const DeviceTensor& a, float s, Context&) { return cuda::add(a, s); }
inline DeviceTensor sub(const DeviceTensor& a, float s, Context&) { return cuda::sub(a, s); }
inline DeviceTensor mul(const DeviceTensor& a, float s, Context&) { return cuda::mul(a, s); }
inline DeviceTensor div(const DeviceTensor& a, float s, Context&) { return cuda::div(a, s); }

// Activations and softmax.
inline DeviceTensor activate(const DeviceTensor& x, Activation a, Context&) { return cuda::activate(x, a); }
inline void activate_inplace(DeviceTensor& x, Activation a, Context&) { cuda::activate_inplace(x, a); }
inline DeviceTensor relu(const DeviceTensor& x, Context&) { return cuda::relu(x); }
inline DeviceTensor gelu(const DeviceTensor& x, Context&, bool tanh_approximation = false) {
  return cuda::gelu(x, tanh_approximation);
}
inline DeviceTensor quick_gelu(const DeviceTensor& x, Context&) { return cuda::quick_gelu(x); }
inline DeviceTensor silu(const DeviceTensor& x, Context&) { return cuda::silu(x); }
inline DeviceTensor sigmoid(const DeviceTensor& x, Context&) { return cuda::sigmoid(x); }
inline DeviceTensor selu(const DeviceTensor& x, Context&) { return cuda::selu(x); }
inline DeviceTensor prelu(const DeviceTensor& x, const DeviceTensor& weight, Context&) { return cuda::prelu(x, weight); }
inline DeviceTensor softmax(const DeviceTensor& x, Context&, int axis = -1) { return cuda::softmax(x, axis); }
inline void softmax_inplace(DeviceTensor& x, Context&, int axis = -1) {
  BIQA_CHECK(x.is_contiguous(), ErrorCode::invalid_argument, "softmax_inplace needs a contiguous tensor");
  cuda::assign(x, cuda::softmax(x, axis));
}
inline DeviceTensor log_softmax(const DeviceTensor& x, Context&, int axis = -1) { return cuda::log_softmax(x, axis); }

// Products and convolutions: cuBLAS in float32, or TF32 with Context::allow_tf32.
namespace detail {
inline void use_math_of(const Context& ctx) {
  cuda::set_math_mode(ctx.allow_tf32 ? cuda::MathMode::tf32 : cuda::MathMode::fp32);
}
}  // namespace detail
inline DeviceTensor linear(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx) {
  detail::use_math_of(ctx);
  return cuda::linear(x, weight, bias);
}
inline DeviceTensor matmul(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  detail::use_math_of(ctx);
  return cuda::matmul(a, b);
}
inline DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx,
                           const Conv2dOptions& opt = {}) {
  detail::use_math_of(ctx);
  return cuda::conv2d(x, weight, bias, opt);
}
/// With conv2d's epilogue: activation(conv + bias + residual).
inline DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx,
                           const Conv2dOptions& opt, const BasicConv2dEpilogue<Cuda>& epilogue) {
  detail::use_math_of(ctx);
  return cuda::conv2d(x, weight, bias, opt, epilogue.residual, epilogue.activation);
}
inline DeviceTensor conv_transpose2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                                     Context&, const ConvTranspose2dOptions& opt = {}) {
  return cuda::conv_transpose2d(x, weight, bias, opt);
}
inline DeviceTensor scaled_dot_product_attention(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v,
                                                 Context& ctx, const BasicAttentionOptions<Cuda>& opt = {}) {
  detail::use_math_of(ctx);
  return cuda::scaled_dot_product_attention(q, k, v, opt.causal, opt.scale, opt.mask);
}

// Normalisations.
inline DeviceTensor layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context&,
                               float eps = 1e-5f) {
  return cuda::layer_norm(x, weight, bias, eps);
}
inline DeviceTensor rms_norm(const DeviceTensor& x, const DeviceTensor& weight, Context&, float eps = 1e-6f) {
  return cuda::rms_norm(x, weight, eps);
}
inline DeviceTensor group_norm(const DeviceTensor& x, std::int64_t num_groups, const DeviceTensor& weight,
                               const DeviceTensor& bias, Context&, float eps = 1e-5f) {
  return cuda::group_norm(x, num_groups, weight, bias, eps);
}
inline DeviceTensor batch_norm(const DeviceTensor& x, const DeviceTensor& running_mean, const DeviceTensor& running_var,
                               const DeviceTensor& weight, const DeviceTensor& bias, Context&, float eps = 1e-5f) {
  return cuda::batch_norm(x, running_mean, running_var, weight, bias, eps);
}

// Joining; the views (split, chunk, slice, permute) and contiguous() are Tensor's own.
inline DeviceTensor concat(const std::vector<DeviceTensor>& parts, int axis) { return cuda::concat(parts, axis); }

// Pooling and resizing.
inline DeviceTensor max_pool2d(const DeviceTensor& x, Context&, const Pool2dOptions& opt) { return cuda::max_pool2d(x, opt); }
inline DeviceTensor avg_pool2d(const DeviceTensor& x, Context&, const Pool2dOptions& opt) { return cuda::avg_pool2d(x, opt); }
inline DeviceTensor adaptive_avg_pool2d(const DeviceTensor& x, std::int64_t out_h, std::int64_t out_w, Context&) {
  return cuda::adaptive_avg_pool2d(x, out_h, out_w);
}
inline DeviceTensor interpolate(const DeviceTensor& x, std::int64_t out_h, std::int64_t out_w, Context&,
                                const InterpolateOptions& opt = {}) {
  return cuda::interpolate(x, out_h, out_w, opt);
}
inline DeviceTensor interpolate_by_scale(const DeviceTensor& x, double scale_h, double scale_w, Context&,
                                         const InterpolateOptions& opt = {}) {
  return cuda::interpolate_by_scale(x, scale_h, scale_w, opt);
}

}  // namespace biqa::ops

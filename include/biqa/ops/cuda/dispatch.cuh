#pragma once
/// @file
/// ops:: for device tensors: overloads of the CPU ops' names and signatures (ops/cpu.hpp) that take
/// Tensor<float, Cuda> and run the CUDA kernels, so code written once against ops:: (a layer, a
/// block) runs on whichever device its tensors are on; overload resolution is the dispatch.
/// Each overload checks that the calling thread's device work goes to the Context's stream
/// (cuda::require_stream_of). Including this header brings both backends into the translation
/// unit (nvcc only).
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
inline DeviceTensor add(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::add(a, b);
}
inline DeviceTensor sub(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::sub(a, b);
}
inline DeviceTensor mul(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::mul(a, b);
}
inline DeviceTensor div(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::div(a, b);
}
inline void add_inplace(DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  cuda::add_inplace(a, b);
}
inline void sub_inplace(DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  cuda::sub_inplace(a, b);
}
inline void mul_inplace(DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  cuda::mul_inplace(a, b);
}
inline void div_inplace(DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  cuda::div_inplace(a, b);
}
inline DeviceTensor add(const DeviceTensor& a, float s, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::add(a, s);
}
inline DeviceTensor sub(const DeviceTensor& a, float s, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::sub(a, s);
}
inline DeviceTensor mul(const DeviceTensor& a, float s, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::mul(a, s);
}
inline DeviceTensor div(const DeviceTensor& a, float s, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::div(a, s);
}

// Activations and softmax.
inline DeviceTensor activate(const DeviceTensor& x, Activation a, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::activate(x, a);
}
inline void activate_inplace(DeviceTensor& x, Activation a, Context& ctx) {
  cuda::require_stream_of(ctx);
  cuda::activate_inplace(x, a);
}
inline DeviceTensor relu(const DeviceTensor& x, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::relu(x);
}
inline DeviceTensor gelu(const DeviceTensor& x, Context& ctx, bool tanh_approximation = false) {
  cuda::require_stream_of(ctx);
  return cuda::gelu(x, tanh_approximation);
}
inline DeviceTensor quick_gelu(const DeviceTensor& x, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::quick_gelu(x);
}
inline DeviceTensor silu(const DeviceTensor& x, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::silu(x);
}
inline DeviceTensor sigmoid(const DeviceTensor& x, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::sigmoid(x);
}
inline DeviceTensor selu(const DeviceTensor& x, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::selu(x);
}
inline DeviceTensor prelu(const DeviceTensor& x, const DeviceTensor& weight, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::prelu(x, weight);
}
inline DeviceTensor softmax(const DeviceTensor& x, Context& ctx, int axis = -1) {
  cuda::require_stream_of(ctx);
  return cuda::softmax(x, axis);
}
inline void softmax_inplace(DeviceTensor& x, Context& ctx, int axis = -1) {
  cuda::require_stream_of(ctx);
  BIQA_CHECK(x.is_contiguous(), ErrorCode::invalid_argument, "softmax_inplace needs a contiguous tensor");
  cuda::assign(x, cuda::softmax(x, axis));
}
inline DeviceTensor log_softmax(const DeviceTensor& x, Context& ctx, int axis = -1) {
  cuda::require_stream_of(ctx);
  return cuda::log_softmax(x, axis);
}

// Products and convolutions: cuBLAS, at Context::matmul_precision.
inline DeviceTensor linear(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::linear(x, weight, bias, ctx.matmul_precision);
}
inline DeviceTensor matmul(const DeviceTensor& a, const DeviceTensor& b, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::matmul(a, b, ctx.matmul_precision);
}
inline DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx,
                           const Conv2dOptions& opt = {}) {
  cuda::require_stream_of(ctx);
  return cuda::conv2d(x, weight, bias, opt, ctx.matmul_precision);
}
/// With conv2d's epilogue: activation(conv + bias + residual).
inline DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx,
                           const Conv2dOptions& opt, const BasicConv2dEpilogue<Cuda>& epilogue) {
  cuda::require_stream_of(ctx);
  return cuda::conv2d(x, weight, bias, opt, epilogue.residual, epilogue.activation, ctx.matmul_precision);
}
inline DeviceTensor conv_transpose2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                                     Context& ctx, const ConvTranspose2dOptions& opt = {}) {
  cuda::require_stream_of(ctx);
  return cuda::conv_transpose2d(x, weight, bias, opt);
}
inline DeviceTensor scaled_dot_product_attention(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v,
                                                 Context& ctx, const BasicAttentionOptions<Cuda>& opt = {}) {
  cuda::require_stream_of(ctx);
  return cuda::scaled_dot_product_attention(q, k, v, opt.causal, opt.scale, opt.mask, ctx.matmul_precision);
}

// Normalisations.
inline DeviceTensor layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx,
                               float eps = 1e-5f) {
  cuda::require_stream_of(ctx);
  return cuda::layer_norm(x, weight, bias, eps);
}
inline DeviceTensor rms_norm(const DeviceTensor& x, const DeviceTensor& weight, Context& ctx, float eps = 1e-6f) {
  cuda::require_stream_of(ctx);
  return cuda::rms_norm(x, weight, eps);
}
inline DeviceTensor group_norm(const DeviceTensor& x, std::int64_t num_groups, const DeviceTensor& weight,
                               const DeviceTensor& bias, Context& ctx, float eps = 1e-5f) {
  cuda::require_stream_of(ctx);
  return cuda::group_norm(x, num_groups, weight, bias, eps);
}
inline DeviceTensor batch_norm(const DeviceTensor& x, const DeviceTensor& running_mean, const DeviceTensor& running_var,
                               const DeviceTensor& weight, const DeviceTensor& bias, Context& ctx, float eps = 1e-5f) {
  cuda::require_stream_of(ctx);
  return cuda::batch_norm(x, running_mean, running_var, weight, bias, eps);
}

// Joining; the views (split, chunk, slice, permute) and contiguous() are Tensor's own.
inline DeviceTensor concat(const std::vector<DeviceTensor>& parts, int axis) { return cuda::concat(parts, axis); }

// Pooling and resizing.
inline DeviceTensor max_pool2d(const DeviceTensor& x, Context& ctx, const Pool2dOptions& opt) {
  cuda::require_stream_of(ctx);
  return cuda::max_pool2d(x, opt);
}
inline DeviceTensor avg_pool2d(const DeviceTensor& x, Context& ctx, const Pool2dOptions& opt) {
  cuda::require_stream_of(ctx);
  return cuda::avg_pool2d(x, opt);
}
inline DeviceTensor adaptive_avg_pool2d(const DeviceTensor& x, std::int64_t out_h, std::int64_t out_w, Context& ctx) {
  cuda::require_stream_of(ctx);
  return cuda::adaptive_avg_pool2d(x, out_h, out_w);
}
inline DeviceTensor interpolate(const DeviceTensor& x, std::int64_t out_h, std::int64_t out_w, Context& ctx,
                                const InterpolateOptions& opt = {}) {
  cuda::require_stream_of(ctx);
  return cuda::interpolate(x, out_h, out_w, opt);
}
inline DeviceTensor interpolate_by_scale(const DeviceTensor& x, double scale_h, double scale_w, Context& ctx,
                                         const InterpolateOptions& opt = {}) {
  cuda::require_stream_of(ctx);
  return cuda::interpolate_by_scale(x, scale_h, scale_w, opt);
}

}  // namespace biqa::ops

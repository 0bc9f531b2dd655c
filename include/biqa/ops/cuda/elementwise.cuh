#pragma once
/// @file
/// Elementwise ops on contiguous device tensors: add, and the activations GELU (erf form, as
/// torch.nn.GELU), QuickGELU and ReLU. Same formulas as ops/cpu (in float; CUDA's erff and expf
/// differ from the CPU's by a few ulp, within the backend tolerance of docs/cuda.md).

#include <cstdint>

#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

namespace kernels {
static __global__ void add(const float* a, const float* b, float* out, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    out[i] = a[i] + b[i];
}
enum class Unary { relu, gelu, quick_gelu };
template <Unary op>
__global__ void unary(const float* x, float* out, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride()) {
    const float v = x[i];
    if constexpr (op == Unary::relu) out[i] = v > 0.0f ? v : 0.0f;
    if constexpr (op == Unary::gelu) out[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    if constexpr (op == Unary::quick_gelu) out[i] = v / (1.0f + expf(-1.702f * v));
  }
}
}  // namespace kernels

namespace detail {
inline void require_contiguous(const Tensor<float, Cuda>& t, const char* op) {
  BIQA_CHECK(t.is_contiguous(), ErrorCode::invalid_argument, "cuda::", op, ": a contiguous tensor, got ",
             t.shape().to_string(), " with other strides");
}
template <kernels::Unary op>
Tensor<float, Cuda> unary(const Tensor<float, Cuda>& x, const char* name) {
  require_contiguous(x, name);
  Tensor<float, Cuda> out(x.shape());
  if (x.numel() == 0) return out;
  kernels::unary<op><<<blocks_for(x.numel()), 256, 0, stream()>>>(x.data(), out.data(), x.numel());
  check_launch(name);
  return out;
}
}  // namespace detail

/// a + b, same shape.
inline Tensor<float, Cuda> add(const Tensor<float, Cuda>& a, const Tensor<float, Cuda>& b) {
  BIQA_CHECK(a.shape() == b.shape(), ErrorCode::invalid_argument, "cuda::add: shapes ", a.shape().to_string(),
             " and ", b.shape().to_string(), " differ");
  detail::require_contiguous(a, "add");
  detail::require_contiguous(b, "add");
  Tensor<float, Cuda> out(a.shape());
  if (a.numel() == 0) return out;
  kernels::add<<<blocks_for(a.numel()), 256, 0, stream()>>>(a.data(), b.data(), out.data(), a.numel());
  check_launch("add");
  return out;
}

inline Tensor<float, Cuda> relu(const Tensor<float, Cuda>& x) { return detail::unary<kernels::Unary::relu>(x, "relu"); }
/// 0.5·x·(1 + erf(x/√2)).
inline Tensor<float, Cuda> gelu(const Tensor<float, Cuda>& x) { return detail::unary<kernels::Unary::gelu>(x, "gelu"); }
/// x·sigmoid(1.702·x) (open_clip's QuickGELU).
inline Tensor<float, Cuda> quick_gelu(const Tensor<float, Cuda>& x) {
  return detail::unary<kernels::Unary::quick_gelu>(x, "quick_gelu");
}

}  // namespace biqa::cuda

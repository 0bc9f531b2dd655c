#pragma once
/// @file
/// Copies between device views, as ops/cpu/shape_ops.hpp on the host: `assign` writes a tensor
/// into a view of another (any layouts), `concat` joins tensors along an axis. Views themselves
/// (slice, select, permute, split, chunk) need no kernel, and `contiguous()` is Tensor's own.

#include <cstdint>
#include <vector>

#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/ops/cuda/bodies/strided.hpp"
#include "biqa/ops/cuda/runtime.cuh"

namespace biqa::cuda {

namespace kernels {
template <typename T>
__global__ void copy_strided(const T* src, T* dst, bodies::Layout from, bodies::Layout to, std::int64_t n) {
  for (std::int64_t i = grid_index(); i < n; i += grid_stride())
    dst[bodies::offset_of(to, i)] = src[bodies::offset_of(from, i)];
}
}  // namespace kernels

/// Copies `src` (any layout, dst's shape) into the elements of `dst`, a view of any layout (a
/// handle: the elements it shares are written).
template <typename T>
void assign(Tensor<T, Cuda> dst, const Tensor<T, Cuda>& src) {
  BIQA_CHECK(src.shape() == dst.shape(), ErrorCode::invalid_argument, "cuda::assign: shape ", src.shape().to_string(),
             " into ", dst.shape().to_string());
  if (dst.numel() == 0) return;
  kernels::copy_strided<T><<<blocks_for(dst.numel()), 256, 0, stream()>>>(
      src.data(), dst.data(), detail::layout_as(src, src.shape()), detail::layout_as(dst, dst.shape()), dst.numel());
  check_launch("assign");
}

/// Joins tensors along `axis`; all other extents must agree (ops::concat on the device).
template <typename T>
Tensor<T, Cuda> concat(const std::vector<Tensor<T, Cuda>>& parts, int axis) {
  Tensor<T, Cuda> out(ops::concat_shape(parts, axis));
  const int a = out.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (const auto& p : parts) {
    assign(out.slice(a, offset, offset + p.size(a)), p);
    offset += p.size(a);
  }
  return out;
}

}  // namespace biqa::cuda

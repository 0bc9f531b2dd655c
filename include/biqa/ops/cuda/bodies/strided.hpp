#pragma once
/// @file
/// Element addressing for device tensors of any layout: a Layout is a tensor's extents and strides
/// (in elements, 0 along a broadcast axis) passed to a kernel by value; offset_of maps the i-th
/// element in row-major order to its place in memory. The elementwise binary ops and the
/// contiguous copy use it (ops/cuda/runtime.cuh, ops/cuda/elementwise.cuh).

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::cuda::bodies {

struct Layout {
  static constexpr int max_rank = 8;  // Shape::max_rank
  int rank = 0;
  std::int64_t shape[max_rank] = {};
  std::int64_t strides[max_rank] = {};
};

/// Memory offset of element i (row-major over `l.shape`).
BIQA_HOST_DEVICE inline std::int64_t offset_of(const Layout& l, std::int64_t i) {
  std::int64_t off = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const std::int64_t extent = l.shape[d];
    off += (i % extent) * l.strides[d];
    i /= extent;
  }
  return off;
}

BIQA_HOST_DEVICE inline float binary_value(ops::BinaryOp op, float a, float b) {
  switch (op) {
    case ops::BinaryOp::add: return a + b;
    case ops::BinaryOp::sub: return a - b;
    case ops::BinaryOp::mul: return a * b;
    case ops::BinaryOp::div: return a / b;
  }
  return a;
}

}  // namespace biqa::cuda::bodies

#pragma once
/// @file
/// How nn::Linear and nn::MultiheadAttention follow Context::weight_packing: whether a weight
/// matrix is kept in the GEMM kernel's packed layout, and making that copy (once per layer).

#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/stored_weight.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::nn::detail {

/// Whether a layer keeps `w` packed under `ctx`. 16-bit weights (the low-memory mode) never are:
/// they are widened per call, and a packed float32 copy would undo the mode.
inline bool keeps_packed(const Context& ctx, const io::StoredWeight& w) {
  if (w.is_half()) return false;
  switch (ctx.weight_packing) {
    case WeightPacking::always: return true;
    case WeightPacking::never: return false;
    default: return w.file_mapped();
  }
}

/// The packed copy of `w`, made on first use; a weight mapped from its file then gives its pages
/// back, so the copy takes their place in memory instead of adding to it.
inline const ops::PackedLinearWeight& packed_weight(ops::PackedOnce& once, const io::StoredWeight& w) {
  return once.get(w.f32(), [&] { w.release_file_pages(); });
}

/// x·Wᵀ + b on the CPU with rows [first, first + count) of `w` (all of them by default; `bias` is
/// theirs), packed once in `once` or per call as `ctx` says; a 16-bit weight has just those rows
/// widened. nn::Linear, nn::MultiheadAttention and layers with an in-projection of their own use it.
inline Tensor<float> linear_rows(const Tensor<float>& x, const io::StoredWeight& w, ops::PackedOnce& once,
                                 const Tensor<float>& bias, Context& ctx, std::int64_t first = 0,
                                 std::int64_t count = -1) {
  if (count < 0) count = w.shape()[0] - first;
  if (keeps_packed(ctx, w)) return ops::linear(x, packed_weight(once, w), bias, ctx, first, count);
  return ops::linear(x, w.rows_to_float(first, count), bias, ctx);
}

}  // namespace biqa::nn::detail

#pragma once
/// @file
/// Shape operations: broadcasting views, concatenation, splitting, contiguous permutes. Views share
/// storage (as in PyTorch); concat and permute_contiguous copy. All but concat are templates over the
/// device too (views and Tensor::clone need no kernel of their own); concat on a device is that
/// backend's (ops/cuda/dispatch.cuh).

#include <cstdint>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/shape.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::ops {

/// The shape two operands broadcast to under NumPy/PyTorch rules (trailing axes aligned; an extent
/// of 1 stretches).
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> out(static_cast<std::size_t>(r));
  for (int i = 0; i < r; ++i) {
    const int ia = a.rank() - r + i, ib = b.rank() - r + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    BIQA_CHECK(da == db || da == 1 || db == 1, ErrorCode::invalid_argument, "shapes ",
               a.to_string(), " and ", b.to_string(), " do not broadcast (axis ", i, ": ", da,
               " vs ", db, ")");
    out[static_cast<std::size_t>(i)] = da == 1 ? db : da;
  }
  return Shape(out);
}

/// A view of `t` stretched to `shape` (stride 0 along broadcast axes); no copy.
template <typename T, typename D>
Tensor<T, D> broadcast_to(const Tensor<T, D>& t, const Shape& shape) {
  const int r = shape.rank(), tr = t.dim();
  BIQA_CHECK(tr <= r, ErrorCode::invalid_argument, "cannot broadcast ", t.shape().to_string(),
             " to the lower-rank ", shape.to_string());
  Strides st{};
  for (int i = 0; i < r; ++i) {
    const int j = tr - r + i;
    if (j < 0) continue;  // new leading axis: stride 0
    const std::int64_t d = t.size(j);
    BIQA_CHECK(d == shape[i] || d == 1, ErrorCode::invalid_argument, "cannot broadcast ",
               t.shape().to_string(), " to ", shape.to_string());
    st[static_cast<std::size_t>(i)] = d == shape[i] ? t.stride(j) : 0;
  }
  return Tensor<T, D>::borrow(const_cast<T*>(t.data()), shape, st, t.owner());
}

/// The shape of the tensors in `parts` (of any device) joined along `axis`, checked: at least one
/// part, equal ranks, and all other extents equal.
template <typename Parts>
Shape concat_shape(const Parts& parts, int axis) {
  BIQA_CHECK(!parts.empty(), ErrorCode::invalid_argument, "concat of no tensors");
  const Shape& first = parts.front().shape();
  const int a = first.normalize_axis(axis);
  Shape out_shape = first;
  std::int64_t total = 0;
  for (const auto& p : parts) {
    BIQA_CHECK(p.dim() == first.rank(), ErrorCode::invalid_argument, "concat: rank ", p.dim(),
               " vs ", first.rank());
    for (int i = 0; i < first.rank(); ++i)
      BIQA_CHECK(i == a || p.size(i) == first[i], ErrorCode::invalid_argument, "concat along axis ",
                 a, ": shape ", p.shape().to_string(), " does not match ", first.to_string());
    total += p.size(a);
  }
  out_shape[a] = total;
  return out_shape;
}

/// Joins tensors along `axis`; all other extents must agree.
template <typename T>
Tensor<T> concat(const std::vector<Tensor<T>>& parts, int axis) {
  Tensor<T> out(concat_shape(parts, axis));
  const int a = out.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (const auto& p : parts) {
    out.slice(a, offset, offset + p.size(a)).assign(p);
    offset += p.size(a);
  }
  return out;
}

/// Views of consecutive pieces of the given sizes along `axis` (sizes must add up to the extent).
template <typename T, typename D>
std::vector<Tensor<T, D>> split(const Tensor<T, D>& t, const std::vector<std::int64_t>& sizes, int axis) {
  const int a = t.shape().normalize_axis(axis);
  std::int64_t sum = 0;
  for (auto s : sizes) sum += s;
  BIQA_CHECK(sum == t.size(a), ErrorCode::invalid_argument, "split sizes add up to ", sum,
             " but axis ", a, " of ", t.shape().to_string(), " has ", t.size(a));
  std::vector<Tensor<T, D>> out;
  std::int64_t offset = 0;
  for (auto s : sizes) {
    out.push_back(t.slice(a, offset, offset + s));
    offset += s;
  }
  return out;
}

/// `chunks` equal views along `axis` (the extent must divide evenly, as the layers here need).
template <typename T, typename D>
std::vector<Tensor<T, D>> chunk(const Tensor<T, D>& t, int chunks, int axis) {
  const int a = t.shape().normalize_axis(axis);
  BIQA_CHECK(chunks > 0 && t.size(a) % chunks == 0, ErrorCode::invalid_argument, "cannot chunk axis ",
             a, " of ", t.shape().to_string(), " into ", chunks, " equal parts");
  return split(t, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), t.size(a) / chunks), a);
}

/// permute(order) copied into row-major storage.
template <typename T, typename D>
Tensor<T, D> permute_contiguous(const Tensor<T, D>& t, const std::vector<int>& order) {
  return t.permute(order).clone();
}

/// Merges axes [start, end] into one (PyTorch's flatten); copies only when `t` is not contiguous.
template <typename T, typename D>
Tensor<T, D> flatten(const Tensor<T, D>& t, int start = 0, int end = -1) {
  if (t.dim() == 0) return t.reshape(Shape{1});
  const int s = t.shape().normalize_axis(start), e = t.shape().normalize_axis(end);
  BIQA_CHECK(s <= e, ErrorCode::invalid_argument, "flatten: start axis ", s, " after end axis ", e);
  std::vector<std::int64_t> dims;
  for (int i = 0; i < s; ++i) dims.push_back(t.size(i));
  std::int64_t merged = 1;
  for (int i = s; i <= e; ++i) merged *= t.size(i);
  dims.push_back(merged);
  for (int i = e + 1; i < t.dim(); ++i) dims.push_back(t.size(i));
  return t.contiguous().reshape(Shape(dims));
}

}  // namespace biqa::ops

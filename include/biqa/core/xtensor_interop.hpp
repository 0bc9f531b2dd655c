#pragma once
/// @file
/// Zero-copy xtensor views of CPU tensors (for image work: transforms, distortions).

#include <vector>

#include <xtensor/xadapt.hpp>

#include "biqa/core/tensor.hpp"

namespace biqa {

/// An xtensor expression over the tensor's storage, honouring its strides. Writes go through.
template <typename T>
auto as_xarray(Tensor<T>& t) {
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  std::vector<std::ptrdiff_t> strides(t.strides().begin(), t.strides().begin() + t.dim());
  std::size_t span = 1;
  for (int i = 0; i < t.dim(); ++i) {
    if (t.size(i) == 0) {
      span = 0;
      break;
    }
    span += static_cast<std::size_t>((t.size(i) - 1) * t.stride(i));
  }
  return xt::adapt(t.data(), span, xt::no_ownership(), shape, strides);
}

/// Copies an xtensor expression into a new contiguous tensor.
template <typename T, typename E>
Tensor<T> from_xexpression(const E& e) {
  Shape s;
  for (auto d : e.shape()) s.push_back(static_cast<std::int64_t>(d));
  Tensor<T> t(s);
  std::size_t i = 0;
  T* out = t.data();
  for (auto it = e.cbegin(); it != e.cend(); ++it) out[i++] = static_cast<T>(*it);
  return t;
}

}  // namespace biqa

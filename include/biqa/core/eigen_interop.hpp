#pragma once
/// @file
/// Zero-copy Eigen views of CPU tensors.

#include <Eigen/Core>

#include "biqa/core/tensor.hpp"

namespace biqa {

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixView =
    Eigen::Map<RowMajorMatrix<T>, Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
template <typename T>
using ConstMatrixView = Eigen::Map<const RowMajorMatrix<T>, Eigen::Unaligned,
                                   Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

/// A rank-2 tensor (any strides) as an Eigen matrix; rows = size(0), cols = size(1).
template <typename T>
MatrixView<T> as_matrix(Tensor<T>& t) {
  BIQA_CHECK(t.dim() == 2, ErrorCode::invalid_argument, "as_matrix needs rank 2, got ",
             t.shape().to_string());
  return MatrixView<T>(t.data(), t.size(0), t.size(1),
                       Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(t.stride(0), t.stride(1)));
}
template <typename T>
ConstMatrixView<T> as_matrix(const Tensor<T>& t) {
  BIQA_CHECK(t.dim() == 2, ErrorCode::invalid_argument, "as_matrix needs rank 2, got ",
             t.shape().to_string());
  return ConstMatrixView<T>(t.data(), t.size(0), t.size(1),
                            Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(t.stride(0), t.stride(1)));
}

/// All elements of a contiguous tensor as an Eigen column vector.
template <typename T>
Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> as_vector(Tensor<T>& t) {
  BIQA_CHECK(t.is_contiguous(), ErrorCode::invalid_argument, "as_vector needs a contiguous tensor");
  return Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(t.data(), t.numel());
}
template <typename T>
Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> as_vector(const Tensor<T>& t) {
  BIQA_CHECK(t.is_contiguous(), ErrorCode::invalid_argument, "as_vector needs a contiguous tensor");
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(t.data(), t.numel());
}

}  // namespace biqa

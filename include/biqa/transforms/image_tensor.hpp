#pragma once
/// @file
/// Shared shape handling of biqa::transforms: images are float tensors [C, H, W] or batches
/// [N, C, H, W] (torchvision's tensor layout); every transform returns the rank it was given.

#include <cstdint>
#include <utility>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::transforms::detail {

/// x as [N, C, H, W] (a view), and whether it was [C, H, W].
inline std::pair<Tensor<float>, bool> as_batch(const Tensor<float>& x, const char* op) {
  BIQA_CHECK(x.dim() == 3 || x.dim() == 4, ErrorCode::invalid_argument, "transforms::", op,
             " needs an image [C, H, W] or a batch [N, C, H, W], got ", x.shape().to_string());
  BIQA_CHECK(x.numel() > 0, ErrorCode::invalid_argument, "transforms::", op, " of an empty image ",
             x.shape().to_string());
  return x.dim() == 3 ? std::pair{x.unsqueeze(0), true} : std::pair{x, false};
}

inline Tensor<float> restore_rank(Tensor<float> y, bool was_image) { return was_image ? y.select(0, 0) : y; }

}  // namespace biqa::transforms::detail

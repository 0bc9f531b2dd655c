#pragma once
/// @file
/// transforms::clip_preprocess: open_clip's eval image transform (Resize(size, BICUBIC) of the
/// shorter side → CenterCrop(size) → ToTensor → Normalize(CLIP mean/std)) done on a float tensor:
/// the resize runs on float32 in [0, 1] with antialias=True, i.e. torchvision's tensor pipeline.
/// open_clip given a PIL image resizes in PIL (8-bit) instead; see resize.hpp for how they differ.

#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/transforms/crop.hpp"
#include "biqa/transforms/normalize.hpp"
#include "biqa/transforms/resize.hpp"

namespace biqa::transforms {

/// x: [C, H, W] or [N, C, H, W] in [0, 1] (to_tensor's output) → [.., 3, size, size].
inline Tensor<float> clip_preprocess(const Tensor<float>& x, Context& ctx, std::int64_t size = 224,
                                     const MeanStd& mean_std = clip_mean_std()) {
  ResizeOptions opt;
  opt.interpolation = Interpolation::bicubic;
  opt.antialias = true;
  return normalize(center_crop(resize_shorter(x, size, ctx, opt), size, size), mean_std);
}

}  // namespace biqa::transforms

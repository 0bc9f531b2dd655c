#pragma once
/// @file
/// transforms::normalize: (x − mean[c]) / std[c] per channel of [C, H, W] / [N, C, H, W], in float32
/// and in that order, as torchvision.transforms.functional.normalize does on tensors.

#include <cstdint>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/transforms/image_tensor.hpp"

namespace biqa::transforms {

struct MeanStd {
  std::vector<float> mean, std;
};

inline const MeanStd& imagenet_mean_std() {
  static const MeanStd v{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  return v;
}
/// OpenAI CLIP's (and open_clip's OPENAI_DATASET_MEAN/STD).
inline const MeanStd& clip_mean_std() {
  static const MeanStd v{{0.48145466f, 0.4578275f, 0.40821073f}, {0.26862954f, 0.26130258f, 0.27577711f}};
  return v;
}

inline Tensor<float> normalize(const Tensor<float>& x, const MeanStd& ms) {
  auto [batch, was_image] = detail::as_batch(x, "normalize");
  const std::int64_t n = batch.size(0), c = batch.size(1), hw = batch.size(2) * batch.size(3);
  BIQA_CHECK(ms.mean.size() == static_cast<std::size_t>(c) && ms.std.size() == static_cast<std::size_t>(c),
             ErrorCode::invalid_argument, "transforms::normalize: ", ms.mean.size(), " means and ",
             ms.std.size(), " stds for ", c, " channels");
  for (float s : ms.std)
    BIQA_CHECK(s != 0.0f, ErrorCode::invalid_argument, "transforms::normalize: std must not be zero");
  Tensor<float> out = batch.contiguous().clone();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      float* p = out.data() + (i * c + ch) * hw;
      const float m = ms.mean[static_cast<std::size_t>(ch)], s = ms.std[static_cast<std::size_t>(ch)];
      for (std::int64_t k = 0; k < hw; ++k) p[k] = (p[k] - m) / s;
    }
  return detail::restore_rank(out, was_image);
}

}  // namespace biqa::transforms

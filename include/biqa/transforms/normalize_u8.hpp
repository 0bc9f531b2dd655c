#pragma once
/// @file
/// transforms::normalize_u8_to_chw: an 8-bit H×W×C image → float32 [C, H, W] normalised as
/// albumentations' Normalize (max_pixel_value 255) followed by ToTensorV2 computes it:
/// (x − m'_c) · r_c in float32 with m'_c = float32(mean_c) · 255 and r_c = 1 / (float32(std_c) · 255),
/// each step rounded to float32. This is the DGIQA inference transform (spec dgiqa.md §7.4); it is
/// not bit-identical to torchvision's (x / 255 − mean) / std (transforms/normalize.hpp).

#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/transforms/normalize.hpp"

namespace biqa::transforms {

inline Tensor<float> normalize_u8_to_chw(const Tensor<std::uint8_t>& hwc, const MeanStd& ms = imagenet_mean_std()) {
  const Shape& s = hwc.shape();
  BIQA_CHECK(s.rank() == 3 && s[0] > 0 && s[1] > 0 && s[2] > 0, ErrorCode::invalid_argument,
             "normalize_u8_to_chw: expected an H×W×C uint8 image, got ", s.to_string());
  const std::int64_t h = s[0], w = s[1], c = s[2];
  BIQA_CHECK(ms.mean.size() == static_cast<std::size_t>(c) && ms.std.size() == static_cast<std::size_t>(c),
             ErrorCode::invalid_argument, "normalize_u8_to_chw: ", ms.mean.size(), " means and ", ms.std.size(),
             " stds for ", c, " channels");
  const Tensor<std::uint8_t> src = hwc.contiguous();
  Tensor<float> out({c, h, w});
  for (std::int64_t ch = 0; ch < c; ++ch) {
    // Each product and quotient is rounded to float32, as numpy does.
    const float mean = ms.mean[static_cast<std::size_t>(ch)] * 255.0f;
    const float stdv = ms.std[static_cast<std::size_t>(ch)] * 255.0f;
    BIQA_CHECK(stdv != 0.0f, ErrorCode::invalid_argument, "normalize_u8_to_chw: std must not be zero");
    const float inv = 1.0f / stdv;
    const std::uint8_t* p = src.data() + ch;
    float* o = out.data() + ch * h * w;
    for (std::int64_t i = 0; i < h * w; ++i) o[i] = (static_cast<float>(p[i * c]) - mean) * inv;
  }
  return out;
}

}  // namespace biqa::transforms

#pragma once
/// @file
/// transforms::to_tensor: an H×W×C image (io::read_image's layout) → a batch of one [1, C, H, W].
/// Float images are taken as they are (expected in [0, 1]); uint8 ones are divided by 255 in
/// float32, as torchvision's ToTensor does.

#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::transforms {

namespace detail {
template <class T, class F>
Tensor<float> hwc_to_nchw(const Tensor<T>& img, F convert) {
  BIQA_CHECK(img.dim() == 3 && img.size(2) > 0, ErrorCode::invalid_argument,
             "transforms::to_tensor needs an image H×W×C, got ", img.shape().to_string());
  const std::int64_t h = img.size(0), w = img.size(1), c = img.size(2);
  const Tensor<T> src = img.contiguous();
  Tensor<float> out({1, c, h, w});
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t ch = 0; ch < c; ++ch)
        out.data()[(ch * h + y) * w + x] = convert(src.data()[(y * w + x) * c + ch]);
  return out;
}
}  // namespace detail

inline Tensor<float> to_tensor(const Tensor<float>& hwc) {
  return detail::hwc_to_nchw(hwc, [](float v) { return v; });
}
inline Tensor<float> to_tensor(const Tensor<std::uint8_t>& hwc) {
  return detail::hwc_to_nchw(hwc, [](std::uint8_t v) { return static_cast<float>(v) / 255.0f; });
}

}  // namespace biqa::transforms

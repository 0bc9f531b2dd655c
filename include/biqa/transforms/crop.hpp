#pragma once
/// @file
/// transforms::crop / center_crop / five_crop with torchvision.transforms.functional's semantics on
/// [C, H, W] / [N, C, H, W] tensors: a box reaching outside the image is filled with zeros, and
/// center_crop places its box at round((H − h) / 2) with Python's round (half to even), padding
/// with zeros (left/top getting the smaller half) when the crop is larger than the image.

#include <array>
#include <cmath>
#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/transforms/image_tensor.hpp"

namespace biqa::transforms {

/// The height × width box at (top, left); may lie partly or wholly outside the image (zeros there).
inline Tensor<float> crop(const Tensor<float>& x, std::int64_t top, std::int64_t left, std::int64_t height,
                          std::int64_t width) {
  auto [batch, was_image] = detail::as_batch(x, "crop");
  BIQA_CHECK(height > 0 && width > 0, ErrorCode::invalid_argument, "transforms::crop: size ", height,
             "x", width, " must be positive");
  const std::int64_t planes = batch.size(0) * batch.size(1), h = batch.size(2), w = batch.size(3);
  const Tensor<float> src = batch.contiguous();
  Tensor<float> out = Tensor<float>::zeros({batch.size(0), batch.size(1), height, width});
  const std::int64_t y0 = std::max<std::int64_t>(top, 0), y1 = std::min(top + height, h);
  const std::int64_t x0 = std::max<std::int64_t>(left, 0), x1 = std::min(left + width, w);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t y = y0; y < y1; ++y)
      for (std::int64_t xx = x0; xx < x1; ++xx)
        out.data()[(p * height + (y - top)) * width + (xx - left)] = src.data()[(p * h + y) * w + xx];
  return detail::restore_rank(out, was_image);
}

namespace detail {
/// Start of a centred window of `crop` in `extent` (torchvision's rule, padding included).
inline std::int64_t center_offset(std::int64_t extent, std::int64_t crop) {
  if (crop > extent) return -((crop - extent) / 2);
  return static_cast<std::int64_t>(std::nearbyint(static_cast<double>(extent - crop) / 2.0));  // ties to even
}
}  // namespace detail

inline Tensor<float> center_crop(const Tensor<float>& x, std::int64_t height, std::int64_t width) {
  detail::as_batch(x, "center_crop");
  return crop(x, detail::center_offset(x.size(-2), height), detail::center_offset(x.size(-1), width), height,
              width);
}
inline Tensor<float> center_crop(const Tensor<float>& x, std::int64_t size) { return center_crop(x, size, size); }

/// The four corners and the centre: {top-left, top-right, bottom-left, bottom-right, centre}.
inline std::array<Tensor<float>, 5> five_crop(const Tensor<float>& x, std::int64_t height, std::int64_t width) {
  detail::as_batch(x, "five_crop");
  const std::int64_t h = x.size(-2), w = x.size(-1);
  BIQA_CHECK(height <= h && width <= w, ErrorCode::invalid_argument, "transforms::five_crop: crop ", height,
             "x", width, " is larger than the image ", h, "x", w);
  return {crop(x, 0, 0, height, width), crop(x, 0, w - width, height, width), crop(x, h - height, 0, height, width),
          crop(x, h - height, w - width, height, width), center_crop(x, height, width)};
}

}  // namespace biqa::transforms

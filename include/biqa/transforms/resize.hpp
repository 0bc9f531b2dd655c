#pragma once
/// @file
/// transforms::resize: torchvision.transforms.functional.resize on a float tensor, i.e.
/// F.interpolate(align_corners=False) on [C, H, W] / [N, C, H, W] images, with torchvision's output
/// size rule. biqa's default is antialias=true (PyTorch's separable antialias filter when
/// downscaling; note that with antialias=true bicubic also uses Keys' A = −0.5 when upscaling).
///
/// PIL vs tensor pipelines: torchvision given a PIL image resizes in PIL (8-bit, its own filter
/// support and rounding), and ToTensor comes after; given a float tensor it runs
/// F.interpolate. The two differ by up to a few 1/255 steps near edges. biqa matches the tensor
/// pipeline (ToTensor first, then resize on float32 with antialias=True), which is the closest a
/// tensor pipeline gets to PIL.

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/transforms/image_tensor.hpp"

namespace biqa::transforms {

enum class Interpolation { bilinear, bicubic };

struct ResizeOptions {
  Interpolation interpolation = Interpolation::bilinear;
  bool antialias = true;
  std::optional<std::int64_t> max_size;  ///< shorter-side resizes only: cap on the longer side
};

/// torchvision's _compute_resized_output_size for an int size: the shorter side becomes `shorter`,
/// the longer one int(shorter · long / short) (truncated), then capped by max_size. Returns (h, w).
inline std::array<std::int64_t, 2> shorter_side_size(std::int64_t h, std::int64_t w, std::int64_t shorter,
                                                     std::optional<std::int64_t> max_size = std::nullopt) {
  BIQA_CHECK(h > 0 && w > 0 && shorter > 0, ErrorCode::invalid_argument, "transforms::resize: size ",
             shorter, " for an image of ", h, "x", w, " must be positive");
  const std::int64_t s = std::min(h, w), l = std::max(h, w);
  std::int64_t new_short = shorter;
  auto new_long = static_cast<std::int64_t>(static_cast<double>(shorter) * static_cast<double>(l) /
                                            static_cast<double>(s));
  if (max_size) {
    BIQA_CHECK(*max_size > shorter, ErrorCode::invalid_argument, "transforms::resize: max_size ",
               *max_size, " must be greater than the shorter-side size ", shorter);
    if (new_long > *max_size) {
      new_short = static_cast<std::int64_t>(static_cast<double>(*max_size) * static_cast<double>(new_short) /
                                            static_cast<double>(new_long));
      new_long = *max_size;
    }
  }
  return w <= h ? std::array{new_long, new_short} : std::array{new_short, new_long};
}

/// Resizes to exactly out_h × out_w.
inline Tensor<float> resize(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w, Context& ctx,
                            const ResizeOptions& opt = {}) {
  auto [batch, was_image] = detail::as_batch(x, "resize");
  ops::InterpolateOptions io;
  io.mode = opt.interpolation == Interpolation::bicubic ? ops::InterpolateMode::bicubic
                                                        : ops::InterpolateMode::bilinear;
  io.align_corners = false;
  io.antialias = opt.antialias;
  return detail::restore_rank(ops::interpolate(batch, out_h, out_w, ctx, io), was_image);
}

/// Resizes so that the shorter side is `shorter` (torchvision's resize(img, [shorter])).
inline Tensor<float> resize_shorter(const Tensor<float>& x, std::int64_t shorter, Context& ctx,
                                    const ResizeOptions& opt = {}) {
  detail::as_batch(x, "resize");
  const auto [h, w] = shorter_side_size(x.size(-2), x.size(-1), shorter, opt.max_size);
  return resize(x, h, w, ctx, opt);
}

}  // namespace biqa::transforms

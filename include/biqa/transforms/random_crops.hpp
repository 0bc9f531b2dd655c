#pragma once
/// @file
/// Crop windows drawn the way DGIQA's inference script draws them (get_random_crops in
/// single_image_inference.py): for each crop, left = random.randint(0, W − size) first, then
/// top = random.randint(0, H − size), on CPython's global `random` stream after random.seed(seed).
/// Libraries that run earlier in the script may have drawn from the same stream first: the
/// albumentations Compose of that script calls random.random() 4 times in 1.3.x, once in
/// 1.4.18–1.4.20 and not at all in 1.4.21+ / 2.x (spec dgiqa.md §7.5); `prior_random_draws` skips
/// that many random() calls before the first crop.

#include <cstdint>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/python_random.hpp"

namespace biqa::transforms {

struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
  bool operator==(const CropBox&) const = default;
};

/// `count` size×size windows inside height×width, continuing `rng`'s stream.
inline std::vector<CropBox> python_random_crops(PythonRandom& rng, std::int64_t height, std::int64_t width,
                                                int count, std::int64_t size) {
  BIQA_CHECK(size > 0 && height >= size && width >= size, ErrorCode::invalid_argument,
             "python_random_crops: a ", size, "×", size, " crop does not fit in ", height, "×", width);
  BIQA_CHECK(count >= 0, ErrorCode::invalid_argument, "python_random_crops: negative crop count ", count);
  std::vector<CropBox> boxes;
  boxes.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const std::int64_t left = rng.randint(0, width - size);  // x first, as the script does
    const std::int64_t top = rng.randint(0, height - size);
    boxes.push_back({top, left, size, size});
  }
  return boxes;
}

struct PythonCropOptions {
  int count = 10;            // the script's --crops default (its README says 20)
  std::int64_t size = 224;
  std::int64_t seed = 42;    ///< random.seed(42) in set_seed
  int prior_random_draws = 0;  ///< 4: albumentations 1.3.x, 1: 1.4.18–1.4.20, 0: 1.4.21+ and 2.x
};

/// The authors' crop protocol on an image of height×width (after the shortest-side resize).
inline std::vector<CropBox> python_random_crops(std::int64_t height, std::int64_t width,
                                                const PythonCropOptions& opt = {}) {
  BIQA_CHECK(opt.prior_random_draws >= 0, ErrorCode::invalid_argument,
             "python_random_crops: negative prior_random_draws");
  PythonRandom rng(opt.seed);
  rng.skip_random(opt.prior_random_draws);
  return python_random_crops(rng, height, width, opt.count, opt.size);
}

}  // namespace biqa::transforms

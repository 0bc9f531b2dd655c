#pragma once
/// @file
/// transforms::opencv_resize_linear: cv::resize(src, dst, {w, h}, 0, 0, INTER_LINEAR) on 8-bit
/// H×W or H×W×{1,3,4} images, bit for bit as opencv-python 4.10 computes it on x86-64 (checked on 400
/// random size pairs and the fixture of tests/transforms/test_opencv_resize.cpp). What that takes:
///  - half-pixel centres: src = (dst + 0.5)·scale − 0.5 with scale = 1 / (dst_size / src_size)
///    in double, then cast to float before the floor and the fraction;
///  - 11-bit weights: round(w·2048) of the float weights 1 − f and f (round half to even);
///  - columns: a source index outside the image is clamped together with its weight (the edge
///    pixel gets all of it); rows: only the row index is clamped, the weights stay as computed;
///  - the horizontal pass is exact in int32 (values up to 255·2048); the vertical pass is
///    OpenCV's SIMD formula, which truncates: ((h0 >> 4)·b0 >> 16) + ((h1 >> 4)·b1 >> 16),
///    then (s + 2) >> 2, saturated to 0..255. It differs from an exact round(Σ/2²²) by one LSB
///    in about 0.1% of the pixels, and opencv-python uses it for every pixel, tails included;
///  - an exact 2× reduction on both axes (integer scale 2) is OpenCV's box average instead:
///    (a + b + c + d + 2) >> 2;
///  - equal sizes are a copy.
/// shortest_side_size / resize_shortest_side_u8 are albumentations' SmallestMaxSize on top of it.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::transforms {

namespace detail {

/// Source index and the two 11-bit weights of one output coordinate along one axis.
struct OpencvTap {
  std::int64_t index;
  std::int32_t w0, w1;
};

inline std::int32_t opencv_weight(float w) {
  return static_cast<std::int32_t>(std::nearbyint(w * 2048.0f));  // cvRound: half to even
}

inline std::vector<OpencvTap> opencv_linear_taps(std::int64_t src, std::int64_t dst, bool clamp_weights) {
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  std::vector<OpencvTap> taps(static_cast<std::size_t>(dst));
  for (std::int64_t d = 0; d < dst; ++d) {
    // The product is rounded before the subtraction, as in OpenCV's build: `volatile` keeps a
    // compiler from fusing the two into an FMA (GCC contracts across statements by default).
    volatile double pos = (static_cast<double>(d) + 0.5) * scale;
    float f = static_cast<float>(pos - 0.5);
    std::int64_t s = static_cast<std::int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_weights) {
      if (s < 0) s = 0, f = 0.0f;
      if (s >= src - 1) s = src - 1, f = 0.0f;
    }
    taps[static_cast<std::size_t>(d)] = {s, opencv_weight(1.0f - f), opencv_weight(f)};
  }
  return taps;
}

inline std::int64_t clamp_index(std::int64_t i, std::int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

inline std::uint8_t saturate_u8(std::int32_t v) {
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/// (rank-2 or rank-3 image) → (H, W, C)
inline std::tuple<std::int64_t, std::int64_t, std::int64_t> opencv_image_dims(const Shape& s, const char* who) {
  BIQA_CHECK(s.rank() == 2 || s.rank() == 3, ErrorCode::invalid_argument, who,
             ": expected an H×W or H×W×C uint8 image, got ", s.to_string());
  const std::int64_t c = s.rank() == 3 ? s[2] : 1;
  BIQA_CHECK(s[0] > 0 && s[1] > 0 && (c == 1 || c == 3 || c == 4), ErrorCode::invalid_argument, who,
             ": bad image shape ", s.to_string(),
             " (1, 3 or 4 channels, no empty side; OpenCV's 2-channel box path is not reproduced)");
  return {s[0], s[1], c};
}

inline Tensor<std::uint8_t> opencv_box2(const std::uint8_t* src, std::int64_t w, std::int64_t c,
                                        std::int64_t oh, std::int64_t ow, const Shape& out_shape) {
  Tensor<std::uint8_t> out(out_shape);
  std::uint8_t* o = out.data();
  const std::int64_t row = w * c;
  for (std::int64_t y = 0; y < oh; ++y) {
    const std::uint8_t* r0 = src + 2 * y * row;
    const std::uint8_t* r1 = r0 + row;
    for (std::int64_t x = 0; x < ow; ++x)
      for (std::int64_t k = 0; k < c; ++k) {
        const std::int64_t i = 2 * x * c + k;
        *o++ = static_cast<std::uint8_t>((r0[i] + r0[i + c] + r1[i] + r1[i + c] + 2) >> 2);
      }
  }
  return out;
}

}  // namespace detail

/// cv::resize(..., INTER_LINEAR) of an H×W or H×W×C (C = 1, 3, 4) uint8 image to out_h × out_w.
inline Tensor<std::uint8_t> opencv_resize_linear(const Tensor<std::uint8_t>& img, std::int64_t out_h,
                                                 std::int64_t out_w) {
  const auto [h, w, c] = detail::opencv_image_dims(img.shape(), "opencv_resize_linear");
  BIQA_CHECK(out_h > 0 && out_w > 0 && out_h <= (std::int64_t(1) << 20) && out_w <= (std::int64_t(1) << 20),
             ErrorCode::invalid_argument, "opencv_resize_linear: bad output size ", out_h, "×", out_w);
  const Tensor<std::uint8_t> src = img.contiguous();
  Shape out_shape = img.shape().rank() == 3 ? Shape{out_h, out_w, c} : Shape{out_h, out_w};
  if (out_h == h && out_w == w) return src.clone();

  // OpenCV's test for its box path: both inverse scales integral (within DBL_EPSILON) and 2.
  const double sx = 1.0 / (static_cast<double>(out_w) / static_cast<double>(w));
  const double sy = 1.0 / (static_cast<double>(out_h) / static_cast<double>(h));
  if (std::abs(sx - 2.0) < DBL_EPSILON && std::abs(sy - 2.0) < DBL_EPSILON)
    return detail::opencv_box2(src.data(), w, c, out_h, out_w, out_shape);

  const auto xt = detail::opencv_linear_taps(w, out_w, true);
  const auto yt = detail::opencv_linear_taps(h, out_h, false);
  const std::int64_t orow = out_w * c;

  // Horizontal pass of one source row into int32 (exact: at most 255·2048).
  auto hpass = [&](std::int64_t sy_row, std::int32_t* dst) {
    const std::uint8_t* s = src.data() + sy_row * w * c;
    for (std::int64_t x = 0; x < out_w; ++x) {
      const auto& t = xt[static_cast<std::size_t>(x)];
      const std::uint8_t* p0 = s + t.index * c;
      const std::uint8_t* p1 = s + detail::clamp_index(t.index + 1, w) * c;
      for (std::int64_t k = 0; k < c; ++k) dst[x * c + k] = p0[k] * t.w0 + p1[k] * t.w1;
    }
  };

  Tensor<std::uint8_t> out(out_shape);
  std::vector<std::int32_t> buf0(static_cast<std::size_t>(orow)), buf1(static_cast<std::size_t>(orow));
  std::int64_t row0 = -1, row1 = -1;  // source rows now held by buf0 / buf1
  for (std::int64_t y = 0; y < out_h; ++y) {
    const auto& t = yt[static_cast<std::size_t>(y)];
    const std::int64_t r0 = detail::clamp_index(t.index, h), r1 = detail::clamp_index(t.index + 1, h);
    // Rows only move forward; reuse what the previous output row computed.
    if (r0 == row1) std::swap(buf0, buf1), std::swap(row0, row1);
    if (r0 != row0) hpass(r0, buf0.data()), row0 = r0;
    if (r1 != row1) hpass(r1, buf1.data()), row1 = r1;
    std::uint8_t* o = out.data() + y * orow;
    for (std::int64_t i = 0; i < orow; ++i) {
      const std::int32_t v = (((buf0[static_cast<std::size_t>(i)] >> 4) * t.w0) >> 16) +
                             (((buf1[static_cast<std::size_t>(i)] >> 4) * t.w1) >> 16);
      o[i] = detail::saturate_u8((v + 2) >> 2);
    }
  }
  return out;
}

/// New (height, width) for albumentations' SmallestMaxSize(target): scale = target / min(h, w),
/// each side round-half-even(side · scale) in double, as Python's round() does.
inline std::pair<std::int64_t, std::int64_t> shortest_side_size(std::int64_t h, std::int64_t w,
                                                                std::int64_t target = 384) {
  BIQA_CHECK(h > 0 && w > 0 && target > 0, ErrorCode::invalid_argument, "shortest_side_size: bad sizes ",
             h, "×", w, " → ", target);
  const double scale = static_cast<double>(target) / static_cast<double>(std::min(h, w));
  if (scale == 1.0) return {h, w};
  auto side = [&](std::int64_t n) {
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::nearbyint(static_cast<double>(n) * scale)));
  };
  return {side(h), side(w)};
}

/// Resizes so that the shorter side becomes `target` with opencv_resize_linear; returns the input
/// itself when the size does not change (the DGIQA inference transform).
inline Tensor<std::uint8_t> resize_shortest_side_u8(const Tensor<std::uint8_t>& img, std::int64_t target = 384) {
  const auto [h, w, c] = detail::opencv_image_dims(img.shape(), "resize_shortest_side_u8");
  (void)c;
  const auto [nh, nw] = shortest_side_size(h, w, target);
  if (nh == h && nw == w) return img;
  return opencv_resize_linear(img, nh, nw);
}

}  // namespace biqa::transforms

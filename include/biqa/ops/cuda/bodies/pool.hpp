#pragma once
/// @file
/// One output of max, average and adaptive average pooling, read from one [H, W] input plane,
/// with PyTorch's rules (ops/cpu/pool.hpp): a NaN in a max window wins; average windows are
/// clipped to the padded input for count_include_pad and to the input otherwise, and a divisor
/// override replaces either count; adaptive bins are [floor(i·in/out), ceil((i+1)·in/out)).

#include <math.h>

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::cuda::bodies {

BIQA_HOST_DEVICE inline float max_pool_value(const float* plane, const ops::detail::PoolGeometry& g, std::int64_t y,
                                             std::int64_t x) {
  const std::int64_t iy0 = y * g.sh - g.ph, ix0 = x * g.sw - g.pw;
  float m = -INFINITY;
  bool nan = false;
  for (std::int64_t ky = 0; ky < g.kh; ++ky) {
    const std::int64_t iy = iy0 + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (std::int64_t kx = 0; kx < g.kw; ++kx) {
      const std::int64_t ix = ix0 + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      const float v = plane[iy * g.w + ix];
      m = v > m ? v : m;
      nan |= v != v;
    }
  }
  return nan ? NAN : m;
}

/// A non-zero `divisor` replaces the count (PyTorch's divisor_override); 0 means none.
BIQA_HOST_DEVICE inline float avg_pool_value(const float* plane, const ops::detail::PoolGeometry& g, std::int64_t y,
                                             std::int64_t x, bool count_include_pad, std::int64_t divisor) {
  std::int64_t y0 = y * g.sh - g.ph, x0 = x * g.sw - g.pw;
  std::int64_t y1 = y0 + g.kh < g.h + g.ph ? y0 + g.kh : g.h + g.ph;
  std::int64_t x1 = x0 + g.kw < g.w + g.pw ? x0 + g.kw : g.w + g.pw;
  const std::int64_t padded_count = (y1 - y0) * (x1 - x0);  // window clipped to the padding
  y0 = y0 > 0 ? y0 : 0, x0 = x0 > 0 ? x0 : 0;
  y1 = y1 < g.h ? y1 : g.h, x1 = x1 < g.w ? x1 : g.w;
  if (y0 >= y1 || x0 >= x1) return 0.0f;
  float sum = 0.0f;
  for (std::int64_t iy = y0; iy < y1; ++iy)
    for (std::int64_t ix = x0; ix < x1; ++ix) sum += plane[iy * g.w + ix];
  const std::int64_t count = divisor != 0 ? divisor : count_include_pad ? padded_count : (y1 - y0) * (x1 - x0);
  return sum / static_cast<float>(count);
}

BIQA_HOST_DEVICE inline float adaptive_avg_pool_value(const float* plane, std::int64_t h, std::int64_t w,
                                                      std::int64_t out_h, std::int64_t out_w, std::int64_t y,
                                                      std::int64_t x) {
  const std::int64_t y0 = y * h / out_h, y1 = ((y + 1) * h + out_h - 1) / out_h;
  const std::int64_t x0 = x * w / out_w, x1 = ((x + 1) * w + out_w - 1) / out_w;
  float sum = 0.0f;
  for (std::int64_t iy = y0; iy < y1; ++iy)
    for (std::int64_t ix = x0; ix < x1; ++ix) sum += plane[iy * w + ix];
  return sum / static_cast<float>((y1 - y0) * (x1 - x0));
}

}  // namespace biqa::cuda::bodies

#pragma once
/// @file
/// The resampling tables of torch.nn.functional.interpolate for one axis: which input positions
/// each output position reads, with which weights (nearest, nearest-exact, bilinear, bicubic with
/// A = −0.75, align_corners, explicit scale factors, antialias). Computed on the host in float32
/// as PyTorch does; ops/cpu/interpolate.hpp applies them on the CPU and ops/cuda/interpolate.cuh
/// on the device, so both backends read the same taps.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "biqa/ops/options.hpp"

namespace biqa::ops::detail {

/// Output position o reads `taps` input positions index[o·taps + t] with weights weight[o·taps + t].
struct ResampleTable {
  std::int64_t taps = 0;
  std::vector<std::int64_t> index;
  std::vector<float> weight;
};

/// PyTorch's area_pixel_compute_scale for float inputs.
inline float resample_scale(std::int64_t in, std::int64_t out, bool align_corners,
                            std::optional<double> scale_factor) {
  if (align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  if (scale_factor && *scale_factor > 0.0) return static_cast<float>(1.0 / *scale_factor);
  return static_cast<float>(in) / static_cast<float>(out);
}

/// area_pixel_compute_source_index (float result of double arithmetic, as in PyTorch).
inline float source_index(float scale, std::int64_t dst, bool align_corners, bool cubic) {
  if (align_corners) return static_cast<float>(scale * static_cast<double>(dst));
  const float src = static_cast<float>(scale * (static_cast<double>(dst) + 0.5) - 0.5);
  return (!cubic && src < 0.0f) ? 0.0f : src;
}

inline float cubic_near(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }  // |x| ≤ 1
inline float cubic_far(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }  // 1 < |x| < 2

inline ResampleTable resample_table(std::int64_t in, std::int64_t out, const InterpolateOptions& opt,
                                    std::optional<double> scale_factor) {
  ResampleTable t;
  const bool nearest = opt.mode == InterpolateMode::nearest || opt.mode == InterpolateMode::nearest_exact;
  const float scale = resample_scale(in, out, opt.align_corners && !nearest, scale_factor);
  auto push = [&](std::int64_t idx, float w) {
    t.index.push_back(std::clamp<std::int64_t>(idx, 0, in - 1));
    t.weight.push_back(w);
  };

  if (nearest) {
    t.taps = 1;
    for (std::int64_t o = 0; o < out; ++o) {
      std::int64_t src;
      if (opt.mode == InterpolateMode::nearest) {
        src = out == in ? o : out == 2 * in ? o >> 1
                            : static_cast<std::int64_t>(std::floor(static_cast<float>(o) * scale));
      } else {
        src = static_cast<std::int64_t>(
            std::floor(static_cast<float>((static_cast<double>(o) + 0.5) * scale)));
      }
      push(std::min(src, in - 1), 1.0f);
    }
    return t;
  }

  const bool cubic = opt.mode == InterpolateMode::bicubic;
  if (opt.antialias) {
    // Separable antialias filter: support widened by the scale when downsampling.
    const float base = cubic ? 2.0f : 1.0f;
    const float support = scale >= 1.0f ? base * scale : base;
    const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    t.taps = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    auto filter = [cubic](float x) {
      x = std::fabs(x);
      if (cubic) {
        constexpr float a = -0.5f;  // PyTorch's antialias cubic uses Keys' / PIL's A = −0.5
        return x < 1.0f ? cubic_near(x, a) : x < 2.0f ? cubic_far(x, a) : 0.0f;
      }
      return x < 1.0f ? 1.0f - x : 0.0f;
    };
    for (std::int64_t o = 0; o < out; ++o) {
      const float center = static_cast<float>(scale * (static_cast<double>(o) + 0.5));
      const std::int64_t xmin =
          std::max<std::int64_t>(static_cast<std::int64_t>(center - support + 0.5), 0);
      const std::int64_t xsize =
          std::min<std::int64_t>(static_cast<std::int64_t>(center + support + 0.5), in) - xmin;
      std::vector<float> w(static_cast<std::size_t>(t.taps), 0.0f);
      float total = 0.0f;
      for (std::int64_t j = 0; j < xsize && j < t.taps; ++j) {
        const float v = filter(static_cast<float>(
            (static_cast<float>(j + xmin) - center + 0.5) * static_cast<double>(invscale)));
        w[static_cast<std::size_t>(j)] = v;
        total += v;
      }
      for (std::int64_t j = 0; j < t.taps; ++j)
        push(xmin + j, total != 0.0f && j < xsize ? w[static_cast<std::size_t>(j)] / total : 0.0f);
    }
    return t;
  }

  if (cubic) {
    constexpr float a = -0.75f;
    t.taps = 4;
    for (std::int64_t o = 0; o < out; ++o) {
      const float real = source_index(scale, o, opt.align_corners, true);
      const std::int64_t i0 = static_cast<std::int64_t>(std::floor(real));
      const float f = real - static_cast<float>(i0);
      const float w[4] = {cubic_far(f + 1.0f, a), cubic_near(f, a), cubic_near(1.0f - f, a),
                          cubic_far(2.0f - f, a)};
      for (int j = 0; j < 4; ++j) push(i0 - 1 + j, w[j]);
    }
    return t;
  }

  t.taps = 2;
  for (std::int64_t o = 0; o < out; ++o) {
    if (out == in) {  // PyTorch copies when the extent is unchanged, whatever the scale factor
      push(o, 1.0f);
      push(o, 0.0f);
      continue;
    }
    const float real = source_index(scale, o, opt.align_corners, false);
    const std::int64_t i0 = static_cast<std::int64_t>(real);
    const std::int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const float l1 = real - static_cast<float>(i0);
    push(i0, 1.0f - l1);
    push(i1, l1);
  }
  return t;
}

}  // namespace biqa::ops::detail

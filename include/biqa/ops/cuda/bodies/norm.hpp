#pragma once
/// @file
/// Per-channel parts of the normalisations: eval-mode BatchNorm as out = x·scale + shift with
/// scale = weight / sqrt(var + eps) and shift = bias − mean·scale, the root in double as in
/// ops/cpu/norm.hpp (so both backends round the same way).

#include <math.h>

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"

namespace biqa::cuda::bodies {

/// weight and bias may be null (1 and 0).
BIQA_HOST_DEVICE inline void batch_norm_scale_shift(const float* mean, const float* var, const float* weight,
                                                    const float* bias, float eps, std::int64_t c, float& scale,
                                                    float& shift) {
  const float inv = static_cast<float>(1.0 / sqrt(double(var[c]) + eps));
  scale = inv * (weight ? weight[c] : 1.0f);
  shift = (bias ? bias[c] : 0.0f) - mean[c] * scale;
}

}  // namespace biqa::cuda::bodies

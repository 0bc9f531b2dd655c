#pragma once
/// @file
/// One output of interpolation from the per-axis tables of ops/resample_table.hpp (computed on the
/// host, copied to the device): the width taps of each height tap's row, summed in the order of
/// ops/cpu/interpolate.hpp (width first, then height; zero height weights skipped).

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"

namespace biqa::cuda::bodies {

/// One axis's table: output o reads index[o·taps + t] with weight[o·taps + t].
struct AxisTaps {
  const std::int64_t* index;
  const float* weight;
  std::int64_t taps;
};

BIQA_HOST_DEVICE inline float resample_value(const float* plane, std::int64_t w, const AxisTaps& th,
                                             const AxisTaps& tw, std::int64_t y, std::int64_t x) {
  float out = 0.0f;
  for (std::int64_t k = 0; k < th.taps; ++k) {
    const float wy = th.weight[y * th.taps + k];
    if (wy == 0.0f) continue;
    const float* row = plane + th.index[y * th.taps + k] * w;
    float acc = 0.0f;
    for (std::int64_t j = 0; j < tw.taps; ++j) acc += tw.weight[x * tw.taps + j] * row[tw.index[x * tw.taps + j]];
    out += wy * acc;
  }
  return out;
}

}  // namespace biqa::cuda::bodies

#pragma once
// Host-side helpers of the CUDA tests: the error measure the tolerances are stated in (and, from
// support/helpers.hpp, seeded random host tensors).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/core/tensor.hpp"
#include "support/helpers.hpp"

namespace biqa::test {

// max |out − ref| / max |ref| (ref all zero: the absolute error), row-major over any layouts;
// NaNs must sit at the same places and are left out of the measure.
inline double error_against(const Tensor<float>& out_in, const Tensor<float>& ref_in) {
  const Tensor<float> out = out_in.contiguous(), ref = ref_in.contiguous();
  REQUIRE(out.shape() == ref.shape());
  double e = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const float o = out.data()[i], r = ref.data()[i];
    if (std::isnan(r) || std::isnan(o)) {
      REQUIRE(std::isnan(r) == std::isnan(o));
      continue;
    }
    e = std::max(e, std::abs(double(o) - r));
    scale = std::max(scale, std::abs(double(r)));
  }
  return scale > 0.0 ? e / scale : e;
}

// The same against a double-precision reference in row-major order.
inline double error_against(const Tensor<float>& out, const std::vector<double>& ref) {
  REQUIRE(out.numel() == static_cast<std::int64_t>(ref.size()));
  double e = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    e = std::max(e, std::abs(double(out.data()[i]) - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return scale > 0.0 ? e / scale : e;
}

}  // namespace biqa::test

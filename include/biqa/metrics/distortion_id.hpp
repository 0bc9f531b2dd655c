#pragma once
/// @file
/// Distortion identification scores of ExIQA (spec exiqa.md, paper §V-B3): predicted strengths
/// P̂(d|I) ∈ [0, 1] against true strengths P(I, d) on L levels (0, 1/L, ..., 1; L = 5 for KADID's
/// levels 1–5, 0 = absent).
///   accuracy  the fraction of (image, distortion) pairs whose prediction lies in the interval
///             centred on the true level t: [t − h, t + h) with h = 1/(2L) (±0.1 for L = 5); the
///             end levels keep their edge: [0, h) for 0 and [1 − h, 1] for 1
///   rmse      sqrt(mean((P̂ − P)²)) over all pairs

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::metrics {

struct DistortionIdScores {
  double accuracy = 0;
  double rmse = 0;
  std::int64_t pairs = 0;
};

/// predicted, truth: [N, D] (any equal shapes).
inline DistortionIdScores distortion_id_scores(const Tensor<float>& predicted, const Tensor<float>& truth, int levels = 5) {
  BIQA_CHECK(predicted.shape() == truth.shape() && predicted.numel() > 0, ErrorCode::invalid_argument,
             "distortion_id_scores: predictions ", predicted.shape().to_string(), " and truth ",
             truth.shape().to_string(), " must have one equal, non-empty shape");
  BIQA_CHECK(levels > 0, ErrorCode::invalid_argument, "distortion_id_scores: levels must be positive");
  const Tensor<float> p = predicted.contiguous(), t = truth.contiguous();
  // The bin of a strength: j with y in [(j − ½)/L, (j + ½)/L), clamped to [0, L] (so 1 is in the
  // top bin); the truth is snapped to its level, so float-stored levels such as 0.4f count as 2/5.
  const auto bin = [levels](double y) {
    const double j = std::floor(y * levels + 0.5);
    return static_cast<std::int64_t>(std::clamp(j, 0.0, double(levels)));
  };
  std::int64_t hits = 0;
  double sq = 0;
  for (std::int64_t i = 0; i < p.numel(); ++i) {
    const double y = p.data()[i], c = t.data()[i];
    hits += bin(y) == static_cast<std::int64_t>(std::llround(c * levels)) ? 1 : 0;
    sq += (y - c) * (y - c);
  }
  DistortionIdScores s;
  s.pairs = p.numel();
  s.accuracy = double(hits) / double(s.pairs);
  s.rmse = std::sqrt(sq / double(s.pairs));
  return s;
}

}  // namespace biqa::metrics

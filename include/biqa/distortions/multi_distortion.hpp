#pragma once
/// @file
/// Multi-distortion images as ExIQA's training set makes them (spec exiqa.md, paper §V-A): pick
/// K uniformly in [1, max_count], K distinct KADID-10k types without replacement, a level in 1–5 for
/// each, and apply them one after another in the drawn order. The true strength of type d is
/// level/5 when d was applied, else 0 (what ExIQA's distortion probabilities are compared with).

#include <array>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/registry.hpp"

namespace biqa::distortions {

struct MultiDistortion {
  std::vector<std::pair<int, int>> steps;  ///< (KADID number 1–25, level 1–5), in application order

  /// [25] strengths in [0, 1], indexed by number − 1.
  std::array<float, 25> strengths() const {
    std::array<float, 25> s{};
    for (const auto& [number, level] : steps) s[static_cast<std::size_t>(number - 1)] = static_cast<float>(level) / 5.0f;
    return s;
  }
};

inline MultiDistortion sample_multi_distortion(Rng& rng, int max_count = 25) {
  BIQA_CHECK(max_count >= 1 && max_count <= 25, ErrorCode::invalid_argument,
             "sample_multi_distortion: max_count must be in [1, 25], got ", max_count);
  const auto k = static_cast<int>(rng.integer(1, max_count));
  std::array<int, 25> pool{};
  std::iota(pool.begin(), pool.end(), 1);
  MultiDistortion m;
  for (int i = 0; i < k; ++i) {  // partial Fisher–Yates: K distinct types
    const auto j = static_cast<std::size_t>(rng.integer(i, 24));
    std::swap(pool[static_cast<std::size_t>(i)], pool[j]);
    m.steps.emplace_back(pool[static_cast<std::size_t>(i)], static_cast<int>(rng.integer(1, 5)));
  }
  return m;
}

inline Image apply_multi_distortion(const MultiDistortion& m, const Image& in, Rng& rng) {
  Image x = in;
  for (const auto& [number, level] : m.steps) x = apply(find_distortion(number).name, level, x, rng);
  return x;
}

}  // namespace biqa::distortions

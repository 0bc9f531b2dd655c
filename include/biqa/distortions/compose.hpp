#pragma once
/// @file
/// Multi-distortion composition: a list of (type, level) applied in order, and the ExIQA-style
/// recipe (K in [1, 25] distinct types at random levels per image) drawn from a seed.

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "biqa/distortions/registry.hpp"

namespace biqa::distortions {

struct Step {
  std::string type;
  double level = 1;
};

/// Applies the steps in order. Step i draws from Rng(derive_seed(seed, i, type number)), so a
/// step's randomness does not depend on the steps before it.
inline Image apply_sequence(const Image& in, const std::vector<Step>& steps, std::uint64_t seed,
                            const ApplyOptions& opt = {}) {
  Image x = in.contiguous().clone();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const DistortionInfo& d = find_distortion(steps[i].type);
    Rng rng(derive_seed(seed, i, static_cast<std::uint64_t>(d.number)));
    x = apply(d.name, steps[i].level, x, rng, opt);
  }
  return x;
}

struct RecipeOptions {
  int min_types = 1, max_types = 25;
  bool integer_levels = true;  ///< false: levels uniform in [1, 5] (continuous strength)
};

/// The ExIQA recipe for image `index`: K uniform in [min_types, max_types], K distinct types in
/// random order (partial Fisher–Yates), each at a random level.
inline std::vector<Step> random_recipe(std::uint64_t seed, std::uint64_t index,
                                       const RecipeOptions& opt = {}) {
  BIQA_CHECK(opt.min_types >= 1 && opt.min_types <= opt.max_types && opt.max_types <= 25,
             ErrorCode::invalid_argument, "random_recipe: need 1 <= min_types <= max_types <= 25");
  Rng rng(derive_seed(seed, index, 0xE81A));
  const auto k = static_cast<int>(rng.integer(opt.min_types, opt.max_types));
  std::vector<int> order(25);
  std::iota(order.begin(), order.end(), 1);
  std::vector<Step> steps;
  for (int i = 0; i < k; ++i) {
    const auto j = static_cast<std::size_t>(rng.integer(i, 24));
    std::swap(order[static_cast<std::size_t>(i)], order[j]);
    const double level = opt.integer_levels ? double(rng.integer(1, 5)) : rng.uniform(1.0, 5.0);
    steps.push_back({std::string(find_distortion(order[static_cast<std::size_t>(i)]).name), level});
  }
  return steps;
}

}  // namespace biqa::distortions

#pragma once
/// @file
/// The interface every image quality model offers, and the card that describes it.
/// A loaded model is immutable: score() is const and takes the caller's Context, so one model
/// serves many threads, each with its own Context.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa {

/// What a user needs to read a score: its direction and range, what the model does to the input
/// before scoring, where its parameters come from and under which licence.
struct ModelInfo {
  std::string name;         // registry name, e.g. "brisque"
  std::string full_name;    // e.g. "BRISQUE (Mittal, Moorthy, Bovik 2012)"
  std::string summary;
  std::string reference;    ///< paper
  bool lower_is_better = false;
  double range_min = 0, range_max = 0;  ///< typical range of scores
  bool bounded = false;     ///< true when scores cannot leave [range_min, range_max]
  std::string input_policy; ///< resize, crop, interpolation, colour conversion, mean/std
  bool stochastic = false;  ///< whether two calls on one image may differ
  std::uint64_t seed = 0;   ///< the seed used when stochastic
  std::string training_data;
  std::string weights_licence;
  std::string weights_source;  ///< where the parameters come from / how to get them
  bool needs_weights_file = false;  ///< true when --weights FILE is required
  /// Model-specific load settings (LoadOptions::settings, `biqa score --set KEY=VALUE`): key, meaning.
  std::vector<std::pair<std::string, std::string>> settings;
};

/// A model's interpretable internals for one image: named values (features, sub-scores) and named
/// maps (H×W float, larger = more: depth, attention) that tools draw as heat maps.
struct Explanation {
  std::vector<std::pair<std::string, double>> values;
  std::vector<std::pair<std::string, Tensor<float>>> maps;
};

class QualityModel {
 public:
  virtual ~QualityModel() = default;
  virtual const ModelInfo& info() const = 0;
  /// image: H×W×3 RGB (or H×W×1 / H×W grey), float in [0, 1].
  virtual double score(const Tensor<float>& image, Context& ctx) const = 0;
  virtual Explanation explain(const Tensor<float>& image, Context& ctx) const {
    Explanation e;
    e.values.emplace_back("score", score(image, ctx));
    return e;
  }
  double score(const Tensor<float>& image) const {
    Context ctx;
    return score(image, ctx);
  }
};

/// A model that can use a depth image of the picture in place of computing one (DGIQA): `biqa score
/// --depth` and `biqa explain --depth` reach it through this interface, without the model's type.
/// Both images are 8-bit, the same size; the depth image grey or 3-channel.
class DepthGuidedModel {
 public:
  virtual ~DepthGuidedModel() = default;
  virtual double score_with_depth(const Tensor<std::uint8_t>& rgb, const Tensor<std::uint8_t>& depth,
                                  Context& ctx) const = 0;
  virtual Explanation explain_with_depth(const Tensor<std::uint8_t>& rgb, const Tensor<std::uint8_t>& depth,
                                         Context& ctx) const = 0;
};

}  // namespace biqa

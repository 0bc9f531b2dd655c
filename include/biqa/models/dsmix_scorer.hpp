#pragma once
/// @file
/// models::DSMixScorer: DSMix as a QualityModel (spec shared/specs/dsmix.md, inference path):
/// the image normalised with the ImageNet mean/std at its own size, five crops (corners and centre,
/// zero padding where the image is smaller than the crop), the ResNet encoder and the regression
/// head per crop, the score = the mean of the five. With a DSM predictor, explain() also returns the
/// predicted distortion-sensitivity map: the predictor run on the same five crops, each crop's map
/// upsampled (bilinear) to its window, averaged where windows overlap, over the whole image.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/models/dsmix.hpp"
#include "biqa/models/quality_model.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/ops/cpu/interpolate.hpp"

namespace biqa::models {

class DSMixScorer : public QualityModel {
 public:
  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "dsmix";
      i.full_name = "DSMix (Shi et al., ECCV 2024)";
      i.summary = "ResNet-50 quality encoder (global-average-pooled layer4) + MLP regression head; mean of "
                  "five 224x224 crops";
      i.reference = "DSMix: Distortion-Induced Sensitivity Map Based Pre-training for No-Reference Image "
                    "Quality Assessment, ECCV 2024";
      i.lower_is_better = false;
      i.range_min = 0;
      i.range_max = 1;
      i.bounded = false;
      i.input_policy = "no resize; ImageNet mean/std; five 224x224 crops (torchvision FiveCrop: corners and "
                       "centre at round((H-224)/2)), zero padding where the image is smaller than 224; mean "
                       "of the five head outputs";
      i.stochastic = false;
      i.training_data = "whatever the head was trained on (linear probing, e.g. `biqa train-head`); the "
                        "score is on that MOS scale, the range above is only nominal";
      i.weights_licence = "no published weights (the authors released no code or checkpoints)";
      i.weights_source = "a biqa/PyTorch file in the canonical layout (encoder.* + head.*), or a head file "
                         "plus torchvision ResNet-50 weights (--set encoder=FILE); docs/models.md";
      i.needs_weights_file = true;
      i.settings = {
          {"encoder", "ResNet encoder weights (torchvision resnet50 state_dict, .pth or .safetensors) when "
                      "--weights holds only the head"},
          {"dsm_weights", "DSM predictor (ViT/8 encoder.* + decoder.*): explain adds the predicted DSM map"},
          {"crop_size", "crop side (default: the file's biqa.config, else 224)"},
      };
      return i;
    }();
    return info;
  }

  DSMixScorer(DSMix net, std::shared_ptr<const DSMPredictor> dsm) : net_(std::move(net)), dsm_(std::move(dsm)) {}

  const ModelInfo& info() const override { return card(); }
  const DSMix& network() const { return net_; }
  bool has_dsm_predictor() const { return dsm_ != nullptr; }

  double score(const Tensor<float>& image, Context& ctx) const override { return net_.score(image, ctx); }

  /// Values: the score, each crop's score and window (top, left). Maps (with a DSM predictor):
  /// "dsm", the predicted map over the image, H×W.
  Explanation explain(const Tensor<float>& image, Context& ctx) const override {
    const DSMixResult r = net_.run(image, ctx);
    Explanation e;
    e.values.emplace_back("score", r.score);
    for (std::size_t k = 0; k < r.crop_scores.size(); ++k) {
      const std::string p = "crop" + std::to_string(k) + ".";
      e.values.emplace_back(p + "score", r.crop_scores[k]);
      e.values.emplace_back(p + "top", static_cast<double>(r.boxes[k][0]));
      e.values.emplace_back(p + "left", static_cast<double>(r.boxes[k][1]));
    }
    if (dsm_) e.maps.emplace_back("dsm", dsm_over_image(image, ctx));
    return e;
  }

  /// The DSM predictor on the five crops, pasted back into the image: [H, W] (zero where no window
  /// covers a pixel, which cannot happen for images at least as large as the crop).
  Tensor<float> dsm_over_image(const Tensor<float>& image, Context& ctx) const {
    BIQA_CHECK(dsm_, ErrorCode::invalid_argument, "DSMix: no DSM predictor was given (--set dsm_weights=FILE)");
    const std::int64_t size = net_.config().crop_size, h = image.size(0), w = image.size(1);
    const Tensor<float> maps = dsm_->forward(net_.crops(image), ctx);  // [5, 1, size/p, size/p]
    const Tensor<float> up = ops::interpolate(maps, size, size, ctx).contiguous();
    Tensor<float> acc = Tensor<float>::zeros({h, w}), cover = Tensor<float>::zeros({h, w});
    const auto boxes = five_crop_boxes(h, w, size);
    for (std::size_t k = 0; k < boxes.size(); ++k) {
      const auto [top, left] = boxes[k];
      const float* m = up.data() + static_cast<std::int64_t>(k) * size * size;
      for (std::int64_t y = std::max<std::int64_t>(0, top); y < std::min(h, top + size); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, left); x < std::min(w, left + size); ++x) {
          acc.data()[y * w + x] += m[(y - top) * size + (x - left)];
          cover.data()[y * w + x] += 1.0f;
        }
    }
    for (std::int64_t i = 0; i < acc.numel(); ++i)
      if (cover.data()[i] > 0) acc.data()[i] /= cover.data()[i];
    return acc;
  }

 private:
  DSMix net_;
  std::shared_ptr<const DSMPredictor> dsm_;
};

}  // namespace biqa::models

/// ---- registry entry: `biqa::load_model("dsmix")`, `biqa score -m dsmix` ----
namespace biqa::models::detail {

inline std::shared_ptr<const QualityModel> load_dsmix_scorer(const LoadOptions& o) {
  const ModelInfo& card = models::DSMixScorer::card();
  check_settings(o, card);
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dsmix needs weights: --weights FILE (encoder.* + head.*, or a head with --set encoder=FILE)");
  json::Value config = json::Object{};
  if (const auto c = setting_int(o, "crop_size", 0); c != 0) config.set("crop_size", c);
  models::DSMix net = models::load_dsmix(o.weights, setting(o, "encoder"), config);
  std::shared_ptr<const models::DSMPredictor> dsm;
  if (const std::string d = setting(o, "dsm_weights"); !d.empty())
    dsm = std::make_shared<const models::DSMPredictor>(models::load_dsm_predictor(d));
  return std::make_shared<const models::DSMixScorer>(std::move(net), std::move(dsm));
}

inline const bool dsmix_registered = register_model({&models::DSMixScorer::card, &load_dsmix_scorer, 40});

}  // namespace biqa::models::detail

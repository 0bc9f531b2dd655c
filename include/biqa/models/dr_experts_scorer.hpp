#pragma once
/// @file
/// models::DrExpertsScorer: DR.Experts' test path for one image as a QualityModel:
///   1. the dataset preset's resize (torchvision Resize((h, w)), bilinear with antialias, run on
///      float [0, 1] values rather than PIL's 8-bit ones): KonIQ / SPAQ / FLIVE to H 512 × W 384
///      (the authors' (h, w) order, which makes landscape images portrait), BID to 512 × 512, the
///      others none (IQA/build.py); an image smaller than the crop on a side is then scaled up
///      (bilinear, aspect kept) so that the crop fits: RandomCrop without padding would fail there;
///   2. crops of the network's input size (384):
///        five     (default) the centre and the four corners, no flips: deterministic;
///        center   the centre crop only;
///        authors  the preset's TEST_PATCH_NUM random crops with its random flips, drawn from
///                 CPython's random seeded with `seed` (the authors draw with torch's generator, so
///                 the windows are the same distribution, not the same windows);
///   3. ImageNet mean/std, DRExperts on the crops as one batch, the mean of the crop scores.
/// The scale of the score is the training set's (spec §4.3): the card cannot know it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/python_random.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/models/da_clip.hpp"
#include "biqa/models/dr_experts.hpp"
#include "biqa/models/quality_model.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/transforms/crop.hpp"
#include "biqa/transforms/normalize.hpp"
#include "biqa/transforms/random_crops.hpp"
#include "biqa/transforms/resize.hpp"
#include "biqa/transforms/to_tensor.hpp"

namespace biqa::models {

/// The authors' per-dataset test transform (spec §4.1).
struct DrExpertsPreset {
  std::string name;
  std::int64_t resize_h = 0, resize_w = 0;  ///< 0: no resize
  bool flips = false;                       ///< random horizontal and vertical flips
  int test_patches = 5;                     ///< TEST_PATCH_NUM
};

inline const std::vector<DrExpertsPreset>& dr_experts_presets() {
  static const std::vector<DrExpertsPreset> p = {
      {"none", 0, 0, false, 5},       {"koniq", 512, 384, true, 15}, {"livec", 0, 0, false, 20},
      {"spaq", 512, 384, true, 15},   {"kadid", 0, 0, true, 15},     {"live", 0, 0, true, 15},
      {"csiq", 0, 0, true, 15},       {"tid2013", 0, 0, true, 10},   {"flive", 512, 384, false, 5},
      {"bid", 512, 512, true, 15},
  };
  return p;
}

inline const DrExpertsPreset& dr_experts_preset(const std::string& name) {
  std::string known;
  for (const auto& p : dr_experts_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  fail(ErrorCode::invalid_argument, "dr_experts: unknown dataset preset '", name, "' (", known, ")");
}

struct DrExpertsOptions {
  std::string preset = "none";
  std::string protocol = "five";  // five, center, authors
  int crops = 0;                  // authors: 0 = the preset's TEST_PATCH_NUM
  std::int64_t seed = 0;
};

struct DrExpertsCrop {
  transforms::CropBox box;
  bool hflip = false, vflip = false;
};

struct DrExpertsResult {
  double score = 0;
  std::vector<DrExpertsCrop> crops;  ///< in the resized image
  std::vector<float> crop_scores;
  std::int64_t resized_height = 0, resized_width = 0;
  DRExperts::Outputs outputs;  ///< of the crop batch
};

class DrExpertsScorer : public QualityModel {
 public:
  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "dr_experts";
      i.full_name = "DR.Experts (AAAI 2026)";
      i.summary = "DeiT-III-S semantic tokens, DA-CLIP degradation priors for 10 distortions, "
                  "differential attention per distortion, dynamic distortion weighting";
      i.reference = "DR.Experts: Differential Refinement of Distortion-Aware Experts for Blind Image "
                    "Quality Assessment, AAAI 2026 (FuBohan01/DR.Experts)";
      i.lower_is_better = false;
      i.range_min = 0;
      i.range_max = 100;
      i.bounded = false;
      i.input_policy = "dataset preset resize (bilinear, antialias), images smaller than 384 scaled up; "
                       "centre + 4 corner 384x384 crops (default; or the authors' random crops with a "
                       "seed); ImageNet mean/std; DA-CLIP sees the crop bilinearly resized to 224 without "
                       "antialias and CLIP-normalised on top; mean of the crop scores";
      i.stochastic = false;
      i.seed = 0;
      i.training_data = "the checkpoint's (the score is on that dataset's MOS scale; LIVE/CSIQ DMOS: "
                        "lower is better)";
      i.weights_licence = "no DR.Experts weights are released; the code has no licence file; DA-CLIP MIT; "
                          "DeiT-III weights CC BY-NC 4.0 in the copy read";
      i.weights_source = "a DR.Experts trainer checkpoint (ckpt_epoch_N.pth, its \"model\" entry) or a "
                         "state_dict / safetensors of it (docs/models.md)";
      i.needs_weights_file = true;
      return i;
    }();
    return info;
  }

  DrExpertsScorer(DRExperts network, DrExpertsOptions options) : net_(std::move(network)), options_(std::move(options)) {
    dr_experts_preset(options_.preset);
    BIQA_CHECK(options_.protocol == "five" || options_.protocol == "center" || options_.protocol == "authors",
               ErrorCode::invalid_argument, "dr_experts: crop_protocol must be five, center or authors, got '",
               options_.protocol, "'");
    BIQA_CHECK(options_.crops >= 0, ErrorCode::invalid_argument, "dr_experts: crops must be >= 0");
  }

  const ModelInfo& info() const override { return card(); }
  const DRExperts& network() const { return net_; }
  const DrExpertsOptions& options() const { return options_; }

  /// image: H×W×3 (or grey) float in [0, 1].
  DrExpertsResult run(const Tensor<float>& image, Context& ctx) const {
    const Tensor<float> chw = prepare(image, ctx);
    DrExpertsResult r;
    r.resized_height = chw.size(1);
    r.resized_width = chw.size(2);
    r.crops = crop_windows(r.resized_height, r.resized_width);
    const std::int64_t size = crop_size();
    Tensor<float> batch({static_cast<std::int64_t>(r.crops.size()), 3, size, size});
    const auto& ms = transforms::imagenet_mean_std();
    for (std::size_t k = 0; k < r.crops.size(); ++k) {
      const auto& c = r.crops[k];
      for (std::int64_t ch = 0; ch < 3; ++ch)
        for (std::int64_t y = 0; y < size; ++y)
          for (std::int64_t x = 0; x < size; ++x) {
            const std::int64_t sy = c.box.top + (c.vflip ? size - 1 - y : y);
            const std::int64_t sx = c.box.left + (c.hflip ? size - 1 - x : x);
            const float v = chw.data()[(ch * r.resized_height + sy) * r.resized_width + sx];
            batch.data()[((static_cast<std::int64_t>(k) * 3 + ch) * size + y) * size + x] =
                (v - ms.mean[static_cast<std::size_t>(ch)]) / ms.std[static_cast<std::size_t>(ch)];
          }
    }
    r.outputs = net_.forward_on(batch, ctx, DRExperts::Options());
    double sum = 0;
    for (std::int64_t k = 0; k < r.outputs.scores.numel(); ++k) {
      r.crop_scores.push_back(r.outputs.scores.data()[k]);
      sum += r.outputs.scores.data()[k];
    }
    r.score = sum / static_cast<double>(r.crop_scores.size());
    return r;
  }

  double score(const Tensor<float>& image, Context& ctx) const override { return run(image, ctx).score; }

  /// Values: the score, each crop's score, the ten DDWM weights at the class token and DA-CLIP's
  /// similarities to the ten prompts (means over the crops). Maps: per distortion, the class-token
  /// row of its differential attention over the patch grid, placed in each crop's window of the
  /// resized image (flips undone) and averaged where windows overlap.
  Explanation explain(const Tensor<float>& image, Context& ctx) const override {
    const DrExpertsResult r = run(image, ctx);
    Explanation e;
    e.values.emplace_back("score", r.score);
    for (std::size_t k = 0; k < r.crop_scores.size(); ++k) e.values.emplace_back(cat("crop", k, ".score"), r.crop_scores[k]);
    const auto& prompts = net_.config().daclip.prompts;
    const std::int64_t n = static_cast<std::int64_t>(r.crops.size()), p = static_cast<std::int64_t>(prompts.size());
    auto mean_over_crops = [&](const Tensor<float>& t, std::int64_t i) {
      double s = 0;
      for (std::int64_t k = 0; k < n; ++k) s += t.data()[k * p + i];
      return s / static_cast<double>(n);
    };
    for (std::int64_t i = 0; i < p; ++i)
      e.values.emplace_back("expert_weight." + prompts[static_cast<std::size_t>(i)], mean_over_crops(r.outputs.expert_weights, i));
    for (std::int64_t i = 0; i < p; ++i)
      e.values.emplace_back("daclip_similarity." + prompts[static_cast<std::size_t>(i)], mean_over_crops(r.outputs.similarities, i));
    for (std::int64_t i = 0; i < p; ++i)
      e.maps.emplace_back("attention." + prompts[static_cast<std::size_t>(i)], attention_over_image(r, i, ctx));
    return e;
  }

  /// Distortion i's class-token attention over the patches of every crop, on the resized image.
  static Tensor<float> attention_over_image(const DrExpertsResult& r, std::int64_t i, Context& ctx) {
    const auto [gh, gw] = r.outputs.grid;
    const std::int64_t k = r.outputs.cls_attention.size(1), l = r.outputs.cls_attention.size(2);
    Tensor<float> acc = Tensor<float>::zeros({r.resized_height, r.resized_width});
    Tensor<float> cover = Tensor<float>::zeros({r.resized_height, r.resized_width});
    for (std::size_t c = 0; c < r.crops.size(); ++c) {
      const auto& crop = r.crops[c];
      Tensor<float> grid({1, 1, gh, gw});
      const float* row = r.outputs.cls_attention.data() + (static_cast<std::int64_t>(c) * k + i) * l + 1;
      std::copy(row, row + gh * gw, grid.data());
      const Tensor<float> m = ops::interpolate(grid, crop.box.height, crop.box.width, ctx);
      for (std::int64_t y = 0; y < crop.box.height; ++y)
        for (std::int64_t x = 0; x < crop.box.width; ++x) {
          // The crop's pixel (y, x) came from the image at the flipped position.
          const std::int64_t sy = crop.box.top + (crop.vflip ? crop.box.height - 1 - y : y);
          const std::int64_t sx = crop.box.left + (crop.hflip ? crop.box.width - 1 - x : x);
          acc.data()[sy * r.resized_width + sx] += m.data()[y * crop.box.width + x];
          cover.data()[sy * r.resized_width + sx] += 1.0f;
        }
    }
    for (std::int64_t j = 0; j < acc.numel(); ++j)
      if (cover.data()[j] > 0) acc.data()[j] /= cover.data()[j];
    return acc;
  }

  std::int64_t crop_size() const { return net_.config().deit.img_size[0]; }

  /// The image as [3, H, W] in [0, 1] after the preset's resize and the upscale to the crop size.
  Tensor<float> prepare(const Tensor<float>& image, Context& ctx) const {
    const Shape& s = image.shape();
    BIQA_CHECK((s.rank() == 3 && (s[2] == 3 || s[2] == 1)) || s.rank() == 2, ErrorCode::invalid_argument,
               "dr_experts: expected an H×W×3 (or grey) image, got ", s.to_string());
    const std::int64_t h = s[0], w = s[1], ch = s.rank() == 3 ? s[2] : 1;
    const Tensor<float> src = image.contiguous();
    Tensor<float> chw({3, h, w});
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t i = 0; i < h * w; ++i) chw.data()[c * h * w + i] = src.data()[i * ch + (ch == 3 ? c : 0)];
    const auto& preset = dr_experts_preset(options_.preset);
    if (preset.resize_h > 0) chw = transforms::resize(chw, preset.resize_h, preset.resize_w, ctx).contiguous();
    const std::int64_t size = crop_size();
    const std::int64_t rh = chw.size(1), rw = chw.size(2);
    if (rh < size || rw < size) {
      const double f = static_cast<double>(size) / static_cast<double>(std::min(rh, rw));
      const std::int64_t nh = std::max<std::int64_t>(size, static_cast<std::int64_t>(std::ceil(rh * f - 1e-9)));
      const std::int64_t nw = std::max<std::int64_t>(size, static_cast<std::int64_t>(std::ceil(rw * f - 1e-9)));
      chw = transforms::resize(chw, nh, nw, ctx).contiguous();
    }
    return chw;
  }

  std::vector<DrExpertsCrop> crop_windows(std::int64_t h, std::int64_t w) const {
    const std::int64_t size = crop_size();
    std::vector<DrExpertsCrop> out;
    if (options_.protocol == "center" || options_.protocol == "five") {
      out.push_back({{transforms::detail::center_offset(h, size), transforms::detail::center_offset(w, size), size, size}});
      if (options_.protocol == "five")
        for (const auto& [top, left] : {std::pair{std::int64_t(0), std::int64_t(0)}, std::pair{std::int64_t(0), w - size},
                                        std::pair{h - size, std::int64_t(0)}, std::pair{h - size, w - size}})
          out.push_back({{top, left, size, size}});
      return out;
    }
    const auto& preset = dr_experts_preset(options_.preset);
    const int count = options_.crops > 0 ? options_.crops : preset.test_patches;
    PythonRandom rng(options_.seed);
    for (int k = 0; k < count; ++k) {
      DrExpertsCrop c;
      if (preset.flips) {
        c.hflip = rng.random() < 0.5;
        c.vflip = rng.random() < 0.5;
      }
      const std::int64_t top = rng.randint(0, h - size);  // torchvision's RandomCrop: top, then left
      const std::int64_t left = rng.randint(0, w - size);
      c.box = {top, left, size, size};
      out.push_back(c);
    }
    return out;
  }

 private:
  DRExperts net_;
  DrExpertsOptions options_;
};

}  // namespace biqa::models

/// ---- registry entry: `biqa::load_model("dr_experts")`, `biqa score -m dr_experts` ----
namespace biqa::models::detail {

inline const ModelInfo& dr_experts_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::DrExpertsScorer::card();
    i.settings = {
        {"preset", "dataset test transform: none (default), koniq, livec, spaq, kadid, live, csiq, tid2013, "
                   "flive, bid"},
        {"crop_protocol", "five (centre + 4 corners, default), center, authors (random crops and flips)"},
        {"crops", "crops of the authors protocol (default: the preset's TEST_PATCH_NUM)"},
        {"seed", "seed of the authors protocol (default 0)"},
        {"sign", "current (A_dist - a*A_sem, default) or previous (A_sem - a*A_dist, code before 2025-12-07)"},
        {"config", "DR.Experts config JSON file (deit, daclip, sign)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_dr_experts_scorer(const LoadOptions& o) {
  check_settings(o, dr_experts_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dr_experts needs a checkpoint: --weights FILE (no weights are published; docs/models.md)");
  models::DrExpertsOptions opt;
  opt.preset = setting(o, "preset", opt.preset);
  opt.protocol = setting(o, "crop_protocol", opt.protocol);
  opt.crops = static_cast<int>(setting_int(o, "crops", 0));
  opt.seed = setting_int(o, "seed", 0);
  io::WeightStore store = io::open_weights(o.weights);
  json::Value config;
  if (auto c = setting_json_file(o, "config")) {
    config = std::move(*c);
  } else if (auto it = store.file().metadata.find("biqa.config"); it != store.file().metadata.end()) {
    config = json::parse(it->second, o.weights + " metadata biqa.config");
  }
  Context ctx(o.threads);
  models::DRExperts net = models::load_dr_experts(store, ctx, config);
  if (const std::string s = setting(o, "sign"); !s.empty()) net.set_sign(models::DRExperts::parse_sign(s));  // wins over the config's
  return std::make_shared<const models::DrExpertsScorer>(std::move(net), std::move(opt));
}

inline const bool dr_experts_registered = register_model({&dr_experts_card, &load_dr_experts_scorer, 50});

}  // namespace biqa::models::detail

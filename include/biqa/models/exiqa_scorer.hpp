#pragma once
/// @file
/// models::ExiqaScorer: ExIQA as a QualityModel. One image goes through open_clip's eval transform
/// at the CLIP tower's size (transforms::clip_preprocess: shorter side to S with bicubic antialias
/// on float [0, 1], centre S×S crop, CLIP mean/std), then models::ExIQA. The score comes from
///   - a head file (probe head from `biqa train-head` on the A attribute probabilities), when given;
///   - else the checkpoint's regressor (regressor.0/3/6);
///   - else there is no score: a plain CLIP checkpoint is a zero-shot ExIQA that explains (attribute
///     and distortion probabilities) but needs a head to score.
/// explain() lists the score, the `top` most probable distortions and the `top` most probable
/// attributes (all of them with top = 0), most probable first.

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/models/exiqa.hpp"
#include "biqa/models/quality_model.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/probe/head_file.hpp"
#include "biqa/transforms/clip_preprocess.hpp"
#include "biqa/transforms/to_tensor.hpp"

namespace biqa::models {

class ExiqaScorer : public QualityModel {
 public:
  ExiqaScorer(ExIQA net, std::optional<probe::Head> head, std::int64_t top)
      : net_(std::move(net)), head_(std::move(head)), top_(top) {}

  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "exiqa";
      i.full_name = "ExIQA (Kazemi Ranjbar, Fatemizadeh 2024)";
      i.summary = "CLIP judges 125 visual distortion attributes (5 for each KADID-10k type); their "
                  "probabilities explain the image and feed a regressor or a trained head";
      i.reference = "ExIQA: Explainable Image Quality Assessment Using Distortion Attributes";
      i.lower_is_better = false;
      i.range_min = 0;
      i.range_max = 1;
      i.bounded = false;
      i.input_policy = "open_clip eval transform at the CLIP tower's size (224 for ViT-B/32): shorter side "
                       "resized (bicubic, antialias, float), centre crop, CLIP mean/std";
      i.training_data = "zero-shot with plain CLIP weights; the regressor or head decides the score scale";
      i.weights_licence = "those of the CLIP weights and of the head";
      i.weights_source = "an ExIQA checkpoint, or any OpenAI/open_clip CLIP state_dict (zero-shot) as "
                         "--weights; a head from `biqa train-head` as --set head=FILE (docs/models.md)";
      i.needs_weights_file = true;
      return i;
    }();
    return info;
  }
  const ModelInfo& info() const override { return card(); }

  /// H×W×3 (or ×1) in [0, 1] → [1, 3, S, S].
  Tensor<float> preprocess(const Tensor<float>& image, Context& ctx) const {
    BIQA_CHECK(image.dim() == 3 && (image.size(2) == 3 || image.size(2) == 1), ErrorCode::invalid_argument,
               "exiqa: expected an H x W x 3 (or x 1) image, got ", image.shape().to_string());
    Tensor<float> rgb = image;
    if (image.size(2) == 1) {
      const Tensor<float> g = image.contiguous();
      rgb = Tensor<float>({image.size(0), image.size(1), 3});
      for (std::int64_t i = 0; i < g.numel(); ++i)
        for (int c = 0; c < 3; ++c) rgb.data()[i * 3 + c] = g.data()[i];
    }
    return transforms::clip_preprocess(transforms::to_tensor(rgb.contiguous()), ctx, net_.image_size());
  }

  ExIQA::Output run(const Tensor<float>& image, Context& ctx) const { return net_.forward_on(preprocess(image, ctx), ctx); }

  bool can_score() const { return head_.has_value() || net_.has_regressor(); }

  double score_of(const ExIQA::Output& out) const {
    BIQA_CHECK(can_score(), ErrorCode::invalid_argument,
               "exiqa: these weights have no regressor; score with a head trained on the attribute "
               "probabilities (--set head=FILE, see docs/models.md), or use `biqa explain`");
    if (head_) {
      const std::int64_t a = out.attribute_probs.size(1);
      probe::MatrixXd x(1, a);
      for (std::int64_t i = 0; i < a; ++i) x(0, i) = out.attribute_probs.data()[i];
      const auto in = std::visit([](const auto& h) -> Eigen::Index {
        using H = std::decay_t<decltype(h)>;
        if constexpr (std::is_same_v<H, probe::LinearHead>) return h.weight.size();
        else return h.w1.cols();
      }, *head_);
      BIQA_CHECK(in == a, ErrorCode::invalid_argument, "exiqa: the head takes ", in, " features, the model gives ",
                 a, " attribute probabilities");
      return probe::predict(*head_, x)(0);
    }
    return out.scores.data()[0];
  }

  double score(const Tensor<float>& image, Context& ctx) const override { return score_of(run(image, ctx)); }

  Explanation explain(const Tensor<float>& image, Context& ctx) const override {
    const ExIQA::Output out = run(image, ctx);
    Explanation e;
    if (can_score()) e.values.emplace_back("score", score_of(out));
    const ExiqaAttributes& attrs = net_.attributes();
    const auto ranked = [this](const Tensor<float>& p) {
      std::vector<std::int64_t> idx(static_cast<std::size_t>(p.numel()));
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&p](auto a, auto b) { return p.data()[a] > p.data()[b]; });
      if (top_ > 0 && static_cast<std::int64_t>(idx.size()) > top_) idx.resize(static_cast<std::size_t>(top_));
      return idx;
    };
    for (const auto d : ranked(out.distortion_probs))
      e.values.emplace_back("distortion:" + attrs.distortions[static_cast<std::size_t>(d)], out.distortion_probs.data()[d]);
    const std::size_t k = attrs.per_distortion();
    for (const auto a : ranked(out.attribute_probs)) {
      const auto ua = static_cast<std::size_t>(a);
      e.values.emplace_back(cat("attribute:", attrs.distortions[ua / k], ".", ua % k + 1, " (", attrs.attribute(ua), ")"),
                            out.attribute_probs.data()[a]);
    }
    return e;
  }

  const ExIQA& net() const { return net_; }

 private:
  ExIQA net_;
  std::optional<probe::Head> head_;
  std::int64_t top_ = 5;
};

}  // namespace biqa::models

/// ---- registry entry: `biqa::load_model("exiqa")`, `biqa score -m exiqa` ----
namespace biqa::models::detail {

inline const ModelInfo& exiqa_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::ExiqaScorer::card();
    i.settings = {
        {"head", "head file from `biqa train-head` on the attribute probabilities (overrides the regressor)"},
        {"attributes", "attribute list JSON (default: the checkpoint's, else biqa's 125)"},
        {"top", "distortions and attributes `biqa explain` lists (default 5; 0 = all)"},
        {"config", "CLIP config JSON (open_clip model config; sizes the weights do not show)"},
        {"vocab", "CLIP BPE vocabulary (default $BIQA_CLIP_VOCAB, else data/clip/bpe_simple_vocab_16e6.txt.gz)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_exiqa_scorer(const LoadOptions& o) {
  check_settings(o, exiqa_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "exiqa needs CLIP weights: --weights FILE (an ExIQA checkpoint or a plain OpenAI/open_clip CLIP "
             "state_dict; docs/models.md)");
  models::ExiqaLoadOptions opt;
  if (const std::string a = setting(o, "attributes"); !a.empty()) opt.attributes = models::ExiqaAttributes::from_file(a);
  if (auto c = setting_json_file(o, "config")) opt.config = std::move(*c);
  opt.vocab = setting(o, "vocab");
  const std::int64_t top = setting_int(o, "top", 5);
  BIQA_CHECK(top >= 0, ErrorCode::invalid_argument, "exiqa: top must be >= 0");
  std::optional<probe::Head> head;
  if (const std::string h = setting(o, "head"); !h.empty()) head = probe::load_head(h);
  Context ctx(o.threads);
  return std::make_shared<const models::ExiqaScorer>(models::load_exiqa(o.weights, opt, ctx), std::move(head), top);
}

inline const bool exiqa_registered = register_model({&exiqa_card, &load_exiqa_scorer, 60});

}  // namespace biqa::models::detail

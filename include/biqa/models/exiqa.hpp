#pragma once
/// @file
/// models::ExIQA, "ExIQA: Explainable Image Quality Assessment Using Distortion Attributes" (spec
/// exiqa.md): CLIP judges, for each of A = D·K distortion attributes (ExiqaAttributes), whether the
/// image shows it; weighted attribute probabilities give the D distortion probabilities, and a SELU
/// regressor on the A attribute probabilities gives the quality score.
///   image features   f = CLIP image tower(image [, visual prompt tokens])
///   attribute a      P(a|I) = softmax over {positive, negative prompt} of s·cos(f, E_t(prompt)),
///                    s = exp(logit_scale) (a logit_bias cancels in the pair)
///   distortion d     P(d|I) = Σ_k softmax_k(attr_weight_logits[d]) · P(d·K + k | I)
///   score            regressor(P(·|I)): Linear → SELU → Dropout → Linear → SELU → Dropout → Linear
/// The 2·A prompt embeddings depend only on the CLIP text tower, so they are computed once at load
/// and scoring runs the image tower alone.
///
/// Checkpoint layout (safetensors or .pth, float32/16), loaded strictly:
///   visual.*, token_embedding.weight, positional_embedding, transformer.*, ln_final.*,
///   text_projection, logit_scale   an OpenAI / open_clip CLIP state_dict, keys unchanged (nn::Clip)
///   visual_prompts                 optional: [K_p, width] shallow or [layers, K_p, width] deep prompts
///                                  (nn::ClipVisionTransformer::forward_tokens says where they go)
///   attr_weight_logits             optional [D, K]; absent = equal weights 1/K (the paper's average)
///   regressor.{0,3,6}.{weight,bias}  optional; widths read from the shapes
/// A plain CLIP checkpoint is therefore a zero-shot ExIQA: attribute and distortion probabilities
/// without any training. Metadata: "biqa.config" (or "config"): the CLIP config, either an open_clip
/// model config or {"clip": {...}}; "exiqa.attributes": the attribute list the checkpoint was
/// trained with (ExiqaAttributes JSON), else biqa's builtin list.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/exiqa_attributes.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/activation.hpp"

namespace biqa::models {

class ExIQA {
 public:
  struct Config {
    nn::Clip::Config clip = nn::Clip::Config::vit_b_32();

    /// {"clip": `<open_clip model config>}` or the open_clip model config itself.
    static Config from_json(const json::Value& j) { return from_json(j, Config()); }
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "ExIQA config: expected a JSON object");
      const json::Value* clip = j.find("clip");
      base.clip = nn::Clip::Config::from_json(clip ? *clip : j, base.clip);
      return base;
    }
  };

  struct Output {
    Tensor<float> image_features;    ///< [N, embed_dim], not normalized
    Tensor<float> attribute_probs;   ///< [N, A]
    Tensor<float> distortion_probs;  ///< [N, D]
    Tensor<float> scores;            ///< [N, outputs] when there is a regressor, else undefined
  };

  ExIQA() = default;
  ExIQA(const Config& config, ExiqaAttributes attributes)
      : config_(config), attributes_(std::move(attributes)), clip_(config.clip) {
    BIQA_CHECK(attributes_.num_attributes() > 0, ErrorCode::invalid_argument, "ExIQA: an empty attribute list");
  }

  /// Takes the keys listed at the top under `root` (finish() afterwards for the strict check) and
  /// encodes the 2·A prompts with the CLIP text tower, which the weights must have.
  void load(const io::WeightStore::Scope& root, const clip::Tokenizer& tokenizer, Context& ctx) {
    clip_.load(root);
    const std::string file = root.store().path();
    BIQA_CHECK(clip_.has_vision() && clip_.has_text(), ErrorCode::format, file,
               ": ExIQA needs a whole CLIP (image and text towers, visual.* and token_embedding.weight)");
    BIQA_CHECK(!std::isnan(clip_.logit_scale()), ErrorCode::format, file, ": ", root.full_name("logit_scale"),
               " is missing");
    const std::int64_t width = config_.clip.vision.width, layers = config_.clip.vision.layers;
    const auto d = static_cast<std::int64_t>(attributes_.num_distortions());
    const auto k = static_cast<std::int64_t>(attributes_.per_distortion());
    const auto a = d * k;
    if (const auto* r = root.record("visual_prompts")) {
      const Shape& s = r->shape;
      const bool ok = (s.rank() == 2 && s[1] == width && s[0] > 0) ||
                      (s.rank() == 3 && s[0] == layers && s[1] > 0 && s[2] == width);
      BIQA_CHECK(ok, ErrorCode::format, file, ": ", root.full_name("visual_prompts"), " ", s.to_string(),
                 " is neither [K, ", width, "] (shallow) nor [", layers, ", K, ", width, "] (deep)");
      visual_prompts_ = root.take_any("visual_prompts");
    }
    if (root.has("attr_weight_logits")) {
      const auto* r = root.record("attr_weight_logits");
      BIQA_CHECK(r->shape == Shape({d, k}), ErrorCode::format, file, ": ", root.full_name("attr_weight_logits"), " ",
                 r->shape.to_string(), " does not fit the attribute list (", d, " distortions x ", k,
                 " attributes); was the checkpoint trained with another list?");
      attr_weight_logits_ = root.take("attr_weight_logits", Shape{d, k});
    }
    attr_weights_ = softmax_rows(attr_weight_logits_, d, k);
    if (root.has("regressor.0.weight")) load_regressor(root.scope("regressor"), a, file);

    // The prompts' embeddings, normalized: rows [0, A) positive, [A, 2A) negative.
    std::vector<std::string> prompts = attributes_.positive_prompts();
    for (auto& p : attributes_.negative_prompts()) prompts.push_back(std::move(p));
    text_features_ = clip_.encode_text(prompts, tokenizer, ctx);
  }

  /// images [N, 3, S, S], CLIP-preprocessed at the vision tower's size, on either device. The image
  /// tower runs there; the attribute read-out (a few hundred numbers per image) runs on the host,
  /// so the Output is on the host.
  template <typename Device>
  Output forward(const Tensor<float, Device>& images, Context& ctx) const {
    BIQA_CHECK(text_features_.defined(), ErrorCode::invalid_argument, "ExIQA: forward() before load()");
    Output out;
    out.image_features = to_device<Cpu>(clip_.encode_image(images, ctx, visual_prompts_));
    const Tensor<float> logits = clip_.logits(out.image_features, text_features_, ctx).contiguous();  // [N, 2A]
    const std::int64_t n = images.size(0), a = num_attributes(), d = num_distortions(), k = a / d;
    out.attribute_probs = Tensor<float>({n, a});
    out.distortion_probs = Tensor<float>::zeros({n, d});
    for (std::int64_t b = 0; b < n; ++b) {
      const float* l = logits.data() + b * 2 * a;
      float* p = out.attribute_probs.data() + b * a;
      for (std::int64_t i = 0; i < a; ++i) p[i] = 1.0f / (1.0f + std::exp(l[a + i] - l[i]));  // two-way softmax
      float* pd = out.distortion_probs.data() + b * d;
      for (std::int64_t j = 0; j < d; ++j)
        for (std::int64_t i = 0; i < k; ++i) pd[j] += attr_weights_.data()[j * k + i] * p[j * k + i];
    }
    if (has_regressor()) out.scores = regress(out.attribute_probs, ctx);
    return out;
  }

  /// forward() on the CUDA device with host images; set by biqa/cuda.cuh.
  using HostForward = Output (*)(const ExIQA&, const Tensor<float>&, Context&);
  static inline HostForward cuda_forward = nullptr;

  /// forward() on ctx.device with host images (what the scorer calls).
  Output forward_on(const Tensor<float>& images, Context& ctx) const {
    if (ctx.device == DeviceType::cpu) return forward(images, ctx);
    if (!cuda_forward) fail_missing_backend(ctx.device, "ExIQA");
    return cuda_forward(*this, images, ctx);
  }

  /// The regressor on attribute probabilities [N, A] → [N, outputs] (dropout is inactive).
  Tensor<float> regress(const Tensor<float>& attribute_probs, Context& ctx) const {
    BIQA_CHECK(has_regressor(), ErrorCode::invalid_argument, "ExIQA: the weights have no regressor");
    Tensor<float> h = fc_[0].forward(attribute_probs, ctx);
    ops::activate_inplace(h, ops::Activation::selu, ctx);
    h = fc_[1].forward(h, ctx);
    ops::activate_inplace(h, ops::Activation::selu, ctx);
    return fc_[2].forward(h, ctx);
  }

  bool has_regressor() const { return fc_.size() == 3; }
  /// "none", "shallow" or "deep", and the number of prompt tokens.
  std::string prompt_mode() const {
    return !visual_prompts_.defined() ? "none" : visual_prompts_.dim() == 2 ? "shallow" : "deep";
  }
  std::int64_t prompt_tokens() const {
    return visual_prompts_.defined() ? visual_prompts_.size(visual_prompts_.dim() - 2) : 0;
  }
  std::int64_t num_attributes() const { return static_cast<std::int64_t>(attributes_.num_attributes()); }
  std::int64_t num_distortions() const { return static_cast<std::int64_t>(attributes_.num_distortions()); }
  /// [D, K], rows sum to 1.
  const Tensor<float>& attribute_weights() const { return attr_weights_; }
  /// [2A, embed_dim]: positive prompts, then negative ones.
  const Tensor<float>& text_features() const { return text_features_; }
  const ExiqaAttributes& attributes() const { return attributes_; }
  const nn::Clip& clip() const { return clip_; }
  const Config& config() const { return config_; }
  std::int64_t image_size() const { return config_.clip.vision.image_size[0]; }

 private:
  static Tensor<float> softmax_rows(const Tensor<float>& logits, std::int64_t rows, std::int64_t cols) {
    Tensor<float> w({rows, cols});
    for (std::int64_t r = 0; r < rows; ++r) {
      if (!logits.defined()) {
        for (std::int64_t c = 0; c < cols; ++c) w.data()[r * cols + c] = 1.0f / static_cast<float>(cols);
        continue;
      }
      const float* l = logits.data() + r * cols;
      float m = l[0];
      for (std::int64_t c = 1; c < cols; ++c) m = std::max(m, l[c]);
      double s = 0;
      for (std::int64_t c = 0; c < cols; ++c) s += std::exp(double(l[c] - m));
      for (std::int64_t c = 0; c < cols; ++c) w.data()[r * cols + c] = static_cast<float>(std::exp(double(l[c] - m)) / s);
    }
    return w;
  }

  void load_regressor(const io::WeightStore::Scope& reg, std::int64_t a, const std::string& file) {
    std::int64_t in = a;
    for (const char* i : {"0", "3", "6"}) {
      const auto* w = reg.record(std::string(i) + ".weight");
      BIQA_CHECK(w && w->shape.rank() == 2, ErrorCode::format, file, ": ", reg.full_name(std::string(i) + ".weight"),
                 " [out, in] is missing (the regressor is Linear, SELU, Dropout, Linear, SELU, Dropout, Linear)");
      BIQA_CHECK(w->shape[1] == in, ErrorCode::format, file, ": ", reg.full_name(std::string(i) + ".weight"), " ",
                 w->shape.to_string(), " takes ", w->shape[1], " inputs, expected ", in,
                 in == a ? " (one per attribute)" : " (the previous layer's outputs)");
      nn::Linear fc(in, w->shape[0]);
      fc.load(reg.scope(i));
      fc_.push_back(std::move(fc));
      in = w->shape[0];
    }
  }

  Config config_;
  ExiqaAttributes attributes_;
  nn::Clip clip_;
  Tensor<float> visual_prompts_, attr_weight_logits_, attr_weights_, text_features_;
  std::vector<nn::Linear> fc_;
};

/// Where the CLIP BPE vocabulary is: $BIQA_CLIP_VOCAB, else data/clip/bpe_simple_vocab_16e6.txt.gz
/// (scripts/fetch_clip_vocab puts it there) under BIQA_DATA_DIR or the working directory.
inline std::string clip_vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  if (const char* dir = std::getenv("BIQA_DATA_DIR"); dir && *dir) return std::string(dir) + "/clip/bpe_simple_vocab_16e6.txt.gz";
  return "data/clip/bpe_simple_vocab_16e6.txt.gz";
}

struct ExiqaLoadOptions {
  json::Value config;                        // else the file's "biqa.config" / "config" metadata
  std::optional<ExiqaAttributes> attributes; // else the file's "exiqa.attributes" metadata, else builtin
  std::string vocab;                         ///< CLIP BPE vocabulary; empty = clip_vocab_path()
};

inline ExIQA load_exiqa(io::WeightStore& store, const ExiqaLoadOptions& opt, Context& ctx) {
  const auto& meta = store.file().metadata;
  json::Value config = opt.config;
  if (config.is_null())
    for (const char* key : {"biqa.config", "config"})
      if (const auto it = meta.find(key); it != meta.end()) {
        config = json::parse(it->second, store.path() + " metadata " + key);
        break;
      }
  ExiqaAttributes attributes = ExiqaAttributes::builtin();
  if (opt.attributes) {
    attributes = *opt.attributes;
  } else if (const auto it = meta.find("exiqa.attributes"); it != meta.end()) {
    const std::string where = store.path() + " metadata exiqa.attributes";
    attributes = ExiqaAttributes::from_json(json::parse(it->second, where), where);
  }
  const auto root = store.root();
  ExIQA::Config c = ExIQA::Config::from_json(config);
  c.clip = nn::Clip::Config::from_weights(root, c.clip);
  const std::string vocab = opt.vocab.empty() ? clip_vocab_path() : opt.vocab;
  const auto tokenizer = clip::Tokenizer::from_file(vocab);
  ExIQA model(c, std::move(attributes));
  model.load(root, tokenizer, ctx);
  store.finish();
  return model;
}

inline ExIQA load_exiqa(const std::string& path, const ExiqaLoadOptions& opt, Context& ctx) {
  io::WeightStore store = io::open_weights(path);
  return load_exiqa(store, opt, ctx);
}

}  // namespace biqa::models

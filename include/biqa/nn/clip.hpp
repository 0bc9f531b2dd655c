#pragma once
/// @file
/// nn::Clip: OpenAI's CLIP as open_clip 2.24 builds it (open_clip/model.py CLIP), configured by
/// open_clip's model-config JSON ({"embed_dim", "quick_gelu", "vision_cfg", "text_cfg"}), loading
/// its state_dict keys unchanged:
///   visual.*                     the image tower (nn::ClipVisionTransformer)
///   token_embedding.weight, positional_embedding, transformer.*, ln_final.*, text_projection
///                                the text tower (nn::ClipTextTransformer), at the top level
///                                ("text.*" in open_clip's CustomTextCLIP)
///   logit_scale                  log of the similarity scale; logit_bias (SigLIP-style) if present
/// load() takes the towers the file has: a whole CLIP state_dict, or one tower's own state_dict
/// (the vision tower's keys without "visual.", or the text tower's). OpenAI's original checkpoints
/// also hold the scalars input_resolution, context_length and vocab_size, which open_clip drops
/// before loading; they are ignored here too.
/// The activation is not visible in the weights: OpenAI's models use QuickGELU ("quick_gelu": true,
/// open_clip's "-quickgelu" configs and its "openai" weights), open_clip's own configs GELU.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/clip_text.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "biqa/nn/clip_vision.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::nn {

class Clip {
 public:
  struct Config {
    std::int64_t embed_dim = 512;
    bool quick_gelu = false;
    ClipVisionTransformer::Config vision;
    ClipTextTransformer::Config text;
    bool logit_bias = false;  // open_clip's init_logit_bias given: a "logit_bias" parameter

    /// open_clip's ViT-B-32.json.
    static Config vit_b_32() { return Config(); }

    /// An open_clip model config (embed_dim, quick_gelu, vision_cfg, text_cfg) over `base`.
    static Config from_json(const json::Value& j, Config base = vit_b_32()) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "CLIP config: expected a JSON object");
      clip_detail::reject(j, "model", {"multimodal_cfg"});
      if (const auto* v = j.find("embed_dim")) base.embed_dim = v->as_int();
      if (const auto* v = j.find("quick_gelu")) base.quick_gelu = v->as_bool();
      if (const auto* v = j.find("init_logit_bias"); v && !v->is_null()) base.logit_bias = true;
      if (const auto* v = j.find("vision_cfg")) base.vision = ClipVisionTransformer::Config::from_json(*v, base.vision);
      if (const auto* v = j.find("text_cfg")) base.text = ClipTextTransformer::Config::from_json(*v, base.text);
      base.sync();
      return base;
    }

    /// The dims the weights under `root` determine (see the towers' from_weights) override `base`.
    static Config from_weights(const io::WeightStore::Scope& root, Config base) {
      const auto v = vision_scope(root);
      const auto t = text_scope(root);
      if (v) base.vision = ClipVisionTransformer::Config::from_weights(*v, base.vision);
      if (t) base.text = ClipTextTransformer::Config::from_weights(*t, base.text);
      if (v || t) base.embed_dim = v ? base.vision.output_dim : base.text.output_dim;
      base.logit_bias = root.has("logit_bias");
      return base;
    }

    /// embed_dim and quick_gelu as the towers' output_dim and activation.
    void sync() {
      vision.quick_gelu = text.quick_gelu = quick_gelu;
      vision.output_dim = text.output_dim = embed_dim;
    }
  };

  Clip() = default;
  explicit Clip(const Config& config) : config_(config), vision_(config.vision), text_(config.text) {}

  /// Loads the towers present under `root` (both, or one), logit_scale and logit_bias when present.
  void load(const io::WeightStore::Scope& root) {
    const auto v = vision_scope(root);
    const auto t = text_scope(root);
    BIQA_CHECK(v || t, ErrorCode::format, root.store().path(), ": no CLIP tower: neither ",
               root.full_name("visual.conv1.weight"), " (or ", root.full_name("conv1.weight"), ") nor ",
               root.full_name("token_embedding.weight"), " is there");
    if (v) vision_.load(*v);
    if (t) text_.load(*t);
    has_vision_ = v.has_value();
    has_text_ = t.has_value();
    if (root.has("logit_scale")) logit_scale_ = root.take("logit_scale", Shape{});
    if (config_.logit_bias || root.has("logit_bias")) logit_bias_ = root.take("logit_bias", Shape{});
    for (const char* k : {"input_resolution", "context_length", "vocab_size"})  // OpenAI's JIT scalars
      if (root.has(k)) root.ignore(k);
  }

  bool has_vision() const { return has_vision_; }
  bool has_text() const { return has_text_; }

  /// images [N, 3, H, W] (CLIP-preprocessed) → [N, embed_dim], not normalized. `prompts`: optional
  /// visual prompt tokens (ClipVisionTransformer::forward_tokens).
  template <typename Device>
  Tensor<float, Device> encode_image(const Tensor<float, Device>& images, Context& ctx,
                                     const Tensor<float>& prompts = {}) const {
    BIQA_CHECK(has_vision_, ErrorCode::invalid_argument, "nn::Clip::encode_image: the weights have no image tower");
    return vision_.forward(images, ctx, prompts);
  }

  /// ids [N, context_length] int64 → [N, embed_dim], not normalized; encode_text<Cuda> runs the
  /// tower on the device.
  template <typename Device = Cpu>
  Tensor<float, Device> encode_text(const Tensor<std::int64_t>& ids, Context& ctx) const {
    BIQA_CHECK(has_text_, ErrorCode::invalid_argument, "nn::Clip::encode_text: the weights have no text tower");
    return text_.template forward<Device>(ids, ctx);
  }

  /// Tokenizes (start and end tokens, padded or cut to context_length) and encodes.
  template <typename Device = Cpu>
  Tensor<float, Device> encode_text(const std::vector<std::string>& texts, const clip::Tokenizer& tokenizer,
                                    Context& ctx) const {
    return encode_text<Device>(tokenizer.tokenize(texts, static_cast<int>(config_.text.context_length)), ctx);
  }

  /// exp(logit_scale) · normalize(image) · normalize(text)ᵀ (+ logit_bias): [N_image, N_text],
  /// the image_logits of open_clip's CLIP.get_logits. Host features (a few rows: bring device
  /// features back with to_device<Cpu>).
  Tensor<float> logits(const Tensor<float>& image_features, const Tensor<float>& text_features, Context& ctx) const {
    BIQA_CHECK(logit_scale_.defined(), ErrorCode::invalid_argument, "nn::Clip::logits: the weights have no logit_scale");
    BIQA_CHECK(image_features.dim() == 2 && text_features.dim() == 2 && image_features.size(1) == text_features.size(1),
               ErrorCode::invalid_argument, "nn::Clip::logits: features ", image_features.shape().to_string(), " and ",
               text_features.shape().to_string(), " do not fit");
    const Tensor<float> img = normalized(image_features), txt = normalized(text_features);
    Tensor<float> out = ops::matmul(img, txt.transpose(0, 1), ctx);
    const float scale = std::exp(logit_scale_.data()[0]);
    const float bias = logit_bias_.defined() ? logit_bias_.data()[0] : 0.0f;
    for (std::int64_t i = 0; i < out.numel(); ++i) out.data()[i] = out.data()[i] * scale + bias;
    return out;
  }

  /// The stored (log) logit_scale; NaN when the weights have none.
  float logit_scale() const { return logit_scale_.defined() ? logit_scale_.data()[0] : std::nanf(""); }

  const Config& config() const { return config_; }
  const ClipVisionTransformer& visual() const { return vision_; }
  const ClipTextTransformer& text() const { return text_; }

  /// Where each tower's keys are: "visual." (or the root for a lone vision tower); the root
  /// (or "text." in CustomTextCLIP) for the text tower.
  static std::optional<io::WeightStore::Scope> vision_scope(const io::WeightStore::Scope& root) {
    if (root.has("visual.conv1.weight")) return root.scope("visual");
    if (root.has("conv1.weight")) return root;
    return std::nullopt;
  }
  static std::optional<io::WeightStore::Scope> text_scope(const io::WeightStore::Scope& root) {
    if (root.has("token_embedding.weight")) return root;
    if (root.has("text.token_embedding.weight")) return root.scope("text");
    return std::nullopt;
  }

 private:
  /// Rows divided by their L2 norm (F.normalize, eps 1e-12).
  static Tensor<float> normalized(const Tensor<float>& x_in) {
    Tensor<float> x = x_in.contiguous().clone();
    const std::int64_t n = x.size(0), d = x.size(1);
    for (std::int64_t i = 0; i < n; ++i) {
      float* row = x.data() + i * d;
      double s = 0;
      for (std::int64_t c = 0; c < d; ++c) s += double(row[c]) * row[c];
      const float inv = 1.0f / static_cast<float>(std::max(std::sqrt(s), 1e-12));
      for (std::int64_t c = 0; c < d; ++c) row[c] *= inv;
    }
    return x;
  }

  Config config_;
  ClipVisionTransformer vision_;
  ClipTextTransformer text_;
  Tensor<float> logit_scale_, logit_bias_;
  bool has_vision_ = false, has_text_ = false;
};

}  // namespace biqa::nn

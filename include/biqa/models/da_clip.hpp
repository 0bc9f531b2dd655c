#pragma once
/// @file
/// models::DaClip, the degradation-aware CLIP (DA-CLIP, Algolzw/daclip-uir) as DR.Experts uses it:
///   text tower      open_clip CLIP text tower ("clip.token_embedding", "clip.transformer", ...,
///                   "clip.text_projection"), run once at load on the degradation prompts; the unit
///                   rows are kept (text_features()).
///   controller      "visual_control.*": a copy of the ViT image tower whose blocks sit one level
///                   deeper ("visual_control.transformer.transformer.resblocks.N") and which has a
///                   Linear per block ("visual_control.transformer.zero_modules.N"). The zero-linear
///                   outputs do not feed back into the residual stream; DR.Experts reads the last one.
///   encode_image    images [N, 3, S, S] (already CLIP-normalised) → the unit degradation embedding
///                   ln_post(x[CLS]) @ proj / ‖·‖ [N, E] and the last zero-linear output [N, T, width]
///                   (before ln_post, batch-first).
/// The content image tower ("clip.visual.*", and its duplicate "visual.*" that PyTorch stores because
/// DaCLIP registers the same module twice) is never run: its keys are skipped without being read,
/// as are the logit scales. Weights: a stand-alone DA-CLIP state_dict (raw, under "state_dict", with
/// DDP's "module." prefix: WeightStore and the .pth reader take care of the last two), or the
/// "head." scope of a DR.Experts checkpoint (load_da_clip(store, "head")).
///
/// The prompts are tokenized with biqa's CLIP tokenizer when one is given; otherwise the ids of
/// the ten DR.Experts prompts are taken from degradation_prompt_ids(), which the tests check against
/// that tokenizer and against open_clip.

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/clip_text.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "biqa/nn/clip_transformer.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::models {

/// The ten degradation words DA-CLIP was trained on, in DR.Experts' order.
inline const std::vector<std::string>& degradation_prompts() {
  static const std::vector<std::string> p = {"motion-blurry", "hazy",  "jpeg-compressed", "low-light", "noisy",
                                             "raindrop",      "rainy", "shadowed",        "snowy",     "uncompleted"};
  return p;
}

/// Their CLIP token ids (start and end tokens included, zero padding omitted).
inline const std::vector<std::vector<std::int64_t>>& degradation_prompt_ids() {
  static const std::vector<std::vector<std::int64_t>> ids = {
      {49406, 7860, 268, 21977, 49407}, {49406, 32655, 49407},    {49406, 73, 11207, 268, 42359, 49407},
      {49406, 1042, 268, 1395, 49407},  {49406, 33495, 49407},    {49406, 3128, 3387, 49407},
      {49406, 10222, 49407},            {49406, 15243, 538, 49407}, {49406, 14191, 49407},
      {49406, 569, 5976, 49407}};
  return ids;
}

/// degradation_prompt_ids() as the [10, context_length] table open_clip's tokenizer gives.
inline Tensor<std::int64_t> degradation_prompt_tokens(std::int64_t context_length = 77) {
  const auto& ids = degradation_prompt_ids();
  auto t = Tensor<std::int64_t>::zeros(Shape{static_cast<std::int64_t>(ids.size()), context_length});
  for (std::size_t r = 0; r < ids.size(); ++r) {
    BIQA_CHECK(static_cast<std::int64_t>(ids[r].size()) <= context_length, ErrorCode::invalid_argument,
               "degradation_prompt_tokens: context_length ", context_length, " is shorter than prompt ", r);
    for (std::size_t c = 0; c < ids[r].size(); ++c) t.data()[r * context_length + c] = ids[r][c];
  }
  return t;
}

class DaClip {
 public:
  struct Config {
    /// The towers' sizes: open_clip's daclip_ViT-B-32.json (= ViT-B-32, exact GELU).
    nn::Clip::Config clip = nn::Clip::Config::vit_b_32();
    std::vector<std::string> prompts = degradation_prompts();

    /// An open_clip model config (daclip_*.json: embed_dim, vision_cfg, text_cfg; "custom_text"
    /// only selects DaCLIP in open_clip's factory and is ignored) over `base`.
    static Config from_json(const json::Value& j) { return from_json(j, Config()); }
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "DA-CLIP config: expected a JSON object");
      base.clip = nn::Clip::Config::from_json(j, base.clip);
      return base;
    }
    /// The sizes the weights under `root` (DA-CLIP's own keys) determine override `base`.
    static Config from_weights(const io::WeightStore::Scope& root, Config base) {
      base.clip = nn::Clip::Config::from_weights(root.scope("clip"), base.clip);
      return base;
    }
  };

  /// hidden on the images' device; degradation (a few numbers per image) on the host.
  template <typename Device = Cpu>
  struct BasicOutputs {
    Tensor<float> degradation;      ///< [N, E], unit rows
    Tensor<float, Device> hidden;   ///< [N, 1 + grid², width]: the last zero-linear output
  };
  using Outputs = BasicOutputs<Cpu>;

  DaClip() = default;
  explicit DaClip(const Config& config) : config_(config), text_(config.clip.text) {
    const auto& v = config.clip.vision;
    BIQA_CHECK(v.pool_type == "tok" && !v.no_ln_pre && !v.layer_scale, ErrorCode::unsupported,
               "DA-CLIP: only the ViT tower of daclip_ViT-* (class-token pooling, ln_pre, no LayerScale)");
    nn::Conv2d::Config c;
    c.in_channels = v.in_chans;
    c.out_channels = v.width;
    c.kernel_size = v.patch_size;
    c.stride = v.patch_size;
    c.bias = false;
    conv1_ = nn::Conv2d(c);
    ln_pre_ = nn::LayerNorm(v.width, v.eps);
    ln_post_ = nn::LayerNorm(v.width, v.eps);
    nn::ClipResidualBlock::Config b;
    b.width = v.width;
    b.heads = v.heads();
    b.mlp_width = static_cast<std::int64_t>(static_cast<double>(v.width) * v.mlp_ratio);
    b.quick_gelu = v.quick_gelu;
    b.eps = v.eps;
    transformer_ = nn::ClipTransformer(v.layers, b);
    zero_last_ = nn::Linear(v.width, v.width);
  }

  /// Loads DA-CLIP's keys under `root` and encodes the prompts (`tokens` [P, context]: the
  /// tokenizer's output; undefined: degradation_prompt_tokens()).
  void load(const io::WeightStore::Scope& root, Context& ctx, const Tensor<std::int64_t>& tokens = {}) {
    const auto& v = config_.clip.vision;
    const std::int64_t w = v.width;
    // Text tower (keys directly under "clip.", as open_clip's plain CLIP class names them).
    const auto clip = root.scope("clip");
    text_.load(clip);
    // The content image tower is not used, and "visual." repeats it: skip both unread.
    root.store().ignore_prefix(clip.full_name("visual."));
    root.store().ignore_prefix(root.full_name("visual."));
    for (const char* k : {"logit_scale", "clip.logit_scale"})
      if (root.has(k)) root.ignore(k);
    // The controller.
    const auto vc = root.scope("visual_control");
    conv1_.load(vc.scope("conv1"));
    class_embedding_ = vc.take("class_embedding", {w});
    positional_embedding_ = vc.take("positional_embedding", {v.num_tokens(), w});
    ln_pre_.load(vc.scope("ln_pre"));
    transformer_.load(vc.scope("transformer").scope("transformer"));
    ln_post_.load(vc.scope("ln_post"));
    proj_ = vc.take("proj", {w, config_.clip.embed_dim});
    // Every zero-linear is checked; only the last one's output is used.
    const auto zero = vc.scope("transformer").scope("zero_modules");
    for (std::int64_t i = 0; i + 1 < v.layers; ++i) {
      zero.take(std::to_string(i) + ".weight", {w, w});
      zero.take(std::to_string(i) + ".bias", {w});
    }
    zero_last_.load(zero.scope(static_cast<int>(v.layers - 1)));
    const Tensor<std::int64_t> ids = tokens.defined() ? tokens : degradation_prompt_tokens(config_.clip.text.context_length);
    BIQA_CHECK(ids.dim() == 2 && ids.size(0) == static_cast<std::int64_t>(config_.prompts.size()),
               ErrorCode::invalid_argument, "DA-CLIP: ", config_.prompts.size(), " prompts but token ids ",
               ids.shape().to_string());
    // Text features are a constant of the weights: encoded once, unit rows.
    text_features_ = unit_rows(text_.forward(ids, ctx));
    device_ = std::make_shared<nn::DeviceWeights>();
    loaded_ = true;
  }

  /// Tokenizes config().prompts with `tokenizer` (what open_clip.get_tokenizer gives).
  Tensor<std::int64_t> tokenize_prompts(const clip::Tokenizer& tokenizer) const {
    return tokenizer.tokenize(config_.prompts, static_cast<int>(config_.clip.text.context_length));
  }

  /// images [N, 3, S, S], CLIP-normalised → degradation embedding and last controller hidden, on
  /// either device.
  template <typename Device>
  BasicOutputs<Device> encode_image(const Tensor<float, Device>& images, Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "DaClip: encode_image() before load()");
    const auto& v = config_.clip.vision;
    BIQA_CHECK(images.dim() == 4 && images.size(1) == v.in_chans && images.size(2) == v.image_size[0] &&
                   images.size(3) == v.image_size[1],
               ErrorCode::invalid_argument, "DaClip: images must be [N, ", v.in_chans, ", ", v.image_size[0], ", ",
               v.image_size[1], "], got ", images.shape().to_string());
    const std::int64_t n = images.size(0), w = v.width, t = v.num_tokens();
    const Tensor<float, Device> patches = conv1_.forward(images, ctx).contiguous();  // [N, width, gh, gw]
    Tensor<float, Device> x;
    if constexpr (nn::on_host<Device>) {
      x = Tensor<float>({n, t, w});
      const float* cls = class_embedding_.data();
      const float* pos = positional_embedding_.data();
      for (std::int64_t b = 0; b < n; ++b) {
        float* dst = x.data() + b * t * w;
        const float* src = patches.data() + b * w * (t - 1);
        for (std::int64_t c = 0; c < w; ++c) {
          dst[c] = cls[c] + pos[c];
          for (std::int64_t p = 1; p < t; ++p) dst[p * w + c] = src[c * (t - 1) + p - 1] + pos[p * w + c];
        }
      }
    } else {  // the same sums: class or patch token + its positional embedding
      const Tensor<float, Device> cls = ops::broadcast_to(device_->get<Device>(0, class_embedding_), {n, 1, w});
      x = ops::concat(std::vector<Tensor<float, Device>>{cls, patches.reshape({n, w, t - 1}).permute({0, 2, 1})}, 1);
      ops::add_inplace(x, device_->get<Device>(1, positional_embedding_), ctx);
    }
    x = transformer_.forward(ln_pre_.forward(x, ctx), ctx, false);
    BasicOutputs<Device> out;
    out.hidden = zero_last_.forward(x, ctx);
    const Tensor<float, Device> pooled = ln_post_.forward(x.select(1, 0).contiguous(), ctx);
    out.degradation = unit_rows(to_device<Cpu>(ops::matmul(pooled, device_->get<Device>(2, proj_), ctx)));
    return out;
  }

  /// Cosine similarities of unit degradation embeddings [N, E] to the prompts → [N, P].
  Tensor<float> similarities(const Tensor<float>& degradation) const {
    const std::int64_t n = degradation.size(0), e = degradation.size(1), p = text_features_.size(0);
    Tensor<float> s({n, p});
    const Tensor<float> d = degradation.contiguous();
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t i = 0; i < p; ++i) {
        double acc = 0;
        for (std::int64_t c = 0; c < e; ++c) acc += double(d.data()[b * e + c]) * text_features_.data()[i * e + c];
        s.data()[b * p + i] = static_cast<float>(acc);
      }
    return s;
  }

  const Tensor<float>& text_features() const { return text_features_; }  // [P, E], unit rows
  const Config& config() const { return config_; }
  std::int64_t embed_dim() const { return config_.clip.embed_dim; }
  std::int64_t width() const { return config_.clip.vision.width; }
  std::array<std::int64_t, 2> grid() const { return config_.clip.vision.grid(); }
  std::array<std::int64_t, 2> image_size() const { return config_.clip.vision.image_size; }

  /// Rows divided by their L2 norm (torch: x / x.norm(dim=-1, keepdim=True)).
  static Tensor<float> unit_rows(const Tensor<float>& x_in) {
    Tensor<float> x = x_in.contiguous().clone();
    const std::int64_t e = x.size(x.dim() - 1), rows = x.numel() / e;
    for (std::int64_t r = 0; r < rows; ++r) {
      float* p = x.data() + r * e;
      double ss = 0;
      for (std::int64_t c = 0; c < e; ++c) ss += double(p[c]) * p[c];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss));
      for (std::int64_t c = 0; c < e; ++c) p[c] *= inv;
    }
    return x;
  }

 private:
  Config config_;
  nn::ClipTextTransformer text_;
  nn::Conv2d conv1_;
  Tensor<float> class_embedding_, positional_embedding_, proj_, text_features_;
  nn::LayerNorm ln_pre_, ln_post_;
  nn::ClipTransformer transformer_;
  nn::Linear zero_last_;
  bool loaded_ = false;
  std::shared_ptr<nn::DeviceWeights> device_ = std::make_shared<nn::DeviceWeights>();  // class, positional, proj
};

/// Builds and strictly loads a stand-alone DA-CLIP: sizes from `config` (an open_clip model config;
/// null: daclip_ViT-B-32) and the weights; `tokenizer` optional (see DaClip::load).
inline DaClip load_da_clip(io::WeightStore& store, Context& ctx, const json::Value& config = {},
                           const clip::Tokenizer* tokenizer = nullptr) {
  const auto root = store.root();
  DaClip model(DaClip::Config::from_weights(root, DaClip::Config::from_json(config)));
  model.load(root, ctx, tokenizer ? model.tokenize_prompts(*tokenizer) : Tensor<std::int64_t>());
  store.finish();
  return model;
}
inline DaClip load_da_clip(const std::string& path, Context& ctx, const json::Value& config = {},
                           const clip::Tokenizer* tokenizer = nullptr) {
  io::WeightStore store = io::open_weights(path);
  return load_da_clip(store, ctx, config, tokenizer);
}

}  // namespace biqa::models

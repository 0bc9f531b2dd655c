#pragma once
/// @file
/// models::DRExperts, "DR.Experts" (AAAI 2026; the authors' `dascore_vit_models` in
/// FuBohan01/DR.Experts models/deit.py), for a batch of 384×384 crops that are already ImageNet-
/// normalised (ToTensor → Normalize), as the authors' data pipeline gives them:
///   backbone     DeiT-III-S/16 (facebookresearch models_v2 keys: LayerScale "gamma_1"/"gamma_2",
///                pos_embed without a class slot) → F [B, 1 + N, E] after its final norm
///   head         DA-CLIP (models::DaClip) on the same crops resized bilinearly WITHOUT antialias to
///                the CLIP size and normalised AGAIN with CLIP's mean/std (the authors' quirk):
///                unit degradation embedding ê and the controller's last zero-linear output H
///   priors       D_i = linears[i](norm1(t_i ⊙ ê)), t_i the unit text embedding of prompt i
///   bridging     L_hidden(H) without the class token, as a grid, bilinearly resized (no antialias)
///                to the DeiT grid; for distortion i the sequence [D_i, grid tokens] → norm3_hidden_feature
///   DSDM         for i = 0 … 9 in order: F_i = norm_vit(F_{i−1}) (cumulative: F_i is F normalised
///                i + 1 times, as the authors' loop does), O_i = diff_attention(D_i, F_i, keys_i)
///                (one shared module, or `diff_attention_list.i`), R_i = (1 − λ) ⊙ FFN(attn_norm(O_i))
///   DDWM         w_i = fc([R_i, F, R_i − F]) per token (F: the backbone output), T = Σ_i w_i F
///   score        Linear(E, 1)(T[:, 0])
/// Only the class-token row of T is read, and every step after the attention works per token, so
/// the default forward computes row 0 of each differential attention (spec §2.10); Options::full
/// runs every row, as the authors do, for the test that shows both agree.
///
/// Sizes (DeiT width/depth/heads/grid, DA-CLIP towers, number of experts, DDWM widths) come from
/// Config and the weights; nothing assumes 384 px or a 24×24 grid. Weights: the authors' full
/// state_dict ("backbone.", "head." = DA-CLIP, the new modules), e.g. "model" of a trainer
/// checkpoint; the unused L1, L2 and backbone.head are checked and skipped.
/// The whole forward is written once against ops::, so it runs on the device of its input.

#include <array>
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
#include "biqa/models/da_clip.hpp"
#include "biqa/models/dr_experts/differential_attention.hpp"
#include "biqa/models/dr_experts/distortion_weighting.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::models {

class DRExperts {
 public:
  using Sign = dr_experts::Sign;

  struct Config {
    nn::VisionTransformer::Config deit = default_deit();
    DaClip::Config daclip;
    std::int64_t experts = 10;                  ///< linears.N (= the DA-CLIP prompts)
    std::vector<std::int64_t> ddwm{384, 32, 16};  // the weight generator's hidden widths
    bool per_expert_attention = false;          ///< diff_attention_list.N (the 2025-12-07 commit)
    Sign sign = Sign::current;
    float eps = 1e-5f;  ///< the LayerNorms DR.Experts adds

    /// DeiT-III-S/16 at 384 as dascore_vit_models builds it (one-output head, LayerScale, eps 1e-6).
    static nn::VisionTransformer::Config default_deit() {
      auto c = nn::VisionTransformer::Config::deit3_small(384);
      c.num_classes = 1;
      c.init_values = 1e-4;
      return c;
    }

    /// {"deit": {timm ViT argument names}, "daclip": {open_clip model config},
    ///  "sign": "current" | "previous"} over `base`.
    static Config from_json(const json::Value& j) { return from_json(j, Config()); }
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "DR.Experts config: expected a JSON object");
      for (const auto& [k, v] : j.as_object())
        BIQA_CHECK(k == "deit" || k == "daclip" || k == "sign", ErrorCode::invalid_argument,
                   "DR.Experts config: unknown key \"", k, "\" (deit, daclip, sign)");
      if (const auto* v = j.find("deit")) base.deit.update(*v);
      if (const auto* v = j.find("daclip")) base.daclip = DaClip::Config::from_json(*v, base.daclip);
      if (const auto* v = j.find("sign")) base.sign = parse_sign(v->as_string());
      return base;
    }

    /// What the weights under `root` say, over `base` (`deit_json`: the DeiT keys the user gave,
    /// which win over the shapes).
    static Config from_weights(const io::WeightStore::Scope& root, Config base, const json::Value& deit_json = {}) {
      const auto bb = root.scope("backbone");
      // Head counts are not in the shapes: the configured one unless the JSON names it.
      const bool heads_given = deit_json.is_object() && deit_json.find("num_heads");
      auto deit = nn::VisionTransformer::Config::from_weights(
          bb, heads_given ? deit_json : json::parse(cat("{\"num_heads\":", base.deit.num_heads, "}")));
      deit.no_embed_class = true;  // models_v2: pos_embed covers the patches only
      if (bb.has("blocks.0.gamma_1")) deit.init_values = base.deit.init_values.value_or(1e-4);
      deit.norm_eps = base.deit.norm_eps;
      if (const auto* r = bb.record("pos_embed"); r && r->shape.rank() == 3) {
        std::int64_t g = 0;
        while ((g + 1) * (g + 1) <= r->shape[1]) ++g;
        if (g * g == r->shape[1] && (deit_json.is_null() || !deit_json.find("img_size")))
          deit.img_size = {g * deit.patch_size[0], g * deit.patch_size[1]};
      }
      base.deit = deit;
      base.daclip = DaClip::Config::from_weights(root.scope("head"), base.daclip);
      std::int64_t n = 0;
      while (root.has_scope("linears." + std::to_string(n))) ++n;
      base.experts = n;
      base.per_expert_attention = root.has_scope("diff_attention_list");
      base.ddwm = dr_experts::DistortionWeighting::hidden_sizes(root.scope(ddwm_scope));
      return base;
    }
  };

  static Sign parse_sign(const std::string& s) {
    if (s == "current") return Sign::current;
    if (s == "previous") return Sign::previous;
    fail(ErrorCode::invalid_argument, "DR.Experts: sign must be \"current\" (A_dist − α·A_sem, the published "
         "code) or \"previous\" (A_sem − α·A_dist, before 2025-12-07), got \"", s, "\"");
  }

  struct Options {
    bool full = false;           // every token row of the DSDM/DDWM (the authors' computation)
    bool intermediates = false;  ///< keep features, degradation, hidden, priors
  };

  struct Outputs {
    Tensor<float> scores;          ///< [B]
    Tensor<float> expert_weights;  ///< [B, experts]: the DDWM weights at the class token
    Tensor<float> similarities;    ///< [B, experts]: cos(ê, t_i)
    Tensor<float> cls_attention;   ///< [B, experts, 1 + N]: row 0 of A_dist − α·A_sem (or the previous sign)
    std::array<std::int64_t, 2> grid{0, 0};  ///< the DeiT patch grid (for maps of cls_attention[.., 1:])
    /// Options::intermediates
    Tensor<float> features;     ///< F [B, 1 + N, E]
    Tensor<float> degradation;  ///< ê [B, E_clip]
    Tensor<float> hidden;       ///< H [B, 1 + grid_clip², width]
    Tensor<float> priors;       ///< D [B, experts, E]
    Tensor<float> tokens;       ///< T [B, 1 + N, E] (Options::full) or [B, 1, E]
  };

  DRExperts() = default;
  explicit DRExperts(const Config& config) : config_(config), backbone_(config.deit), head_(config.daclip) {
    const std::int64_t e = config.deit.embed_dim;
    BIQA_CHECK(config.experts > 0 && config.experts == static_cast<std::int64_t>(config.daclip.prompts.size()),
               ErrorCode::invalid_argument, "DR.Experts: ", config.experts, " experts for ",
               config.daclip.prompts.size(), " DA-CLIP prompts");
    const std::int64_t ec = config.daclip.clip.embed_dim, wc = config.daclip.clip.vision.width;
    norm1_ = nn::LayerNorm(ec, config.eps);
    for (std::int64_t i = 0; i < config.experts; ++i) linears_.emplace_back(ec, e);
    l_hidden_ = nn::Linear(wc, e);
    norm_vit_ = nn::LayerNorm(e, config.eps);
    norm3_ = nn::LayerNorm(e, config.eps);
    const std::int64_t modules = config.per_expert_attention ? config.experts : 1;
    for (std::int64_t i = 0; i < modules; ++i) attention_.emplace_back(e);
    attn_norm_ = nn::LayerNorm(e, config.eps);
    ffn1_ = nn::Linear(e, e);
    ffn2_ = nn::Linear(e, e);
    ddwm_ = dr_experts::DistortionWeighting(e, config.ddwm);
    score_ = nn::Linear(e, 1);
  }

  void load(const io::WeightStore::Scope& root, Context& ctx, const Tensor<std::int64_t>& prompt_tokens = {}) {
    const std::int64_t e = config_.deit.embed_dim, n = num_patches();
    backbone_.load(root.scope("backbone"), nn::VisionTransformer::KeyNames::deit3_models_v2());
    head_.load(root.scope("head"), ctx, prompt_tokens);
    norm1_.load(root.scope("norm1"));
    for (std::size_t i = 0; i < linears_.size(); ++i) linears_[i].load(root.scope("linears").scope(static_cast<int>(i)));
    l_hidden_.load(root.scope("L_hidden"));
    norm_vit_.load(root.scope("norm_vit"));
    norm3_.load(root.scope("norm3_hidden_feature"));
    if (config_.per_expert_attention)
      for (std::size_t i = 0; i < attention_.size(); ++i)
        attention_[i].load(root.scope("diff_attention_list").scope(static_cast<int>(i)));
    else
      attention_[0].load(root.scope("diff_attention"));
    attn_norm_.load(root.scope("attn_norm"));
    ffn1_.load(root.scope("group_attn_ffn").scope(0));
    ffn2_.load(root.scope("group_attn_ffn").scope(2));
    const Tensor<float> lambda = root.take("lamda_init", {1, e});
    one_minus_lambda_ = Tensor<float>({e});
    for (std::int64_t c = 0; c < e; ++c) one_minus_lambda_.data()[c] = 1.0f - lambda.data()[c];
    ddwm_.load(root.scope(ddwm_scope));
    score_.load(root.scope("score"));
    device_ = std::make_shared<nn::DeviceWeights>();  // device copies of what was loaded before
    // Present in every checkpoint, never used by forward().
    root.take("L1.weight", {e, config_.daclip.clip.embed_dim});
    root.take("L1.bias", {e});
    root.take("L2.weight", {1, n});
    root.take("L2.bias", {1});
    loaded_ = true;
  }

  /// x [B, 3, S, S] ImageNet-normalised crops at the DeiT size, on either device, where the whole
  /// network runs (backbone, DA-CLIP's image tower, priors, differential attention, weighting); the
  /// Outputs are host tensors.
  template <typename Device>
  Outputs forward(const Tensor<float, Device>& x, Context& ctx) const {
    return forward(x, ctx, Options());
  }
  template <typename Device>
  Outputs forward(const Tensor<float, Device>& x, Context& ctx, const Options& opt) const {
    using T = Tensor<float, Device>;
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "DRExperts: forward() before load()");
    const auto [sh, sw] = config_.deit.img_size;
    BIQA_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == sh && x.size(3) == sw, ErrorCode::invalid_argument,
               "DRExperts: input must be [B, 3, ", sh, ", ", sw, "] (ImageNet-normalised), got ", x.shape().to_string());
    const std::int64_t b = x.size(0), e = config_.deit.embed_dim, k = config_.experts;
    const T feats = backbone_.forward_features(x, ctx).contiguous();  // F [B, L, E]
    const std::int64_t l = feats.size(1);
    const DaClip::BasicOutputs<Device> da = head_.encode_image(clip_input(x, ctx), ctx);

    // Priors D [B, K, E]: expert p's Linear on norm1(t_p ⊙ ê).
    const std::int64_t ec = config_.daclip.clip.embed_dim;
    const T prod = ops::mul(device_->get<Device>(0, head_.text_features()).reshape({1, k, ec}),
                            to_device<Device>(da.degradation).reshape({b, 1, ec}), ctx);
    const T normed = norm1_.forward(prod, ctx).contiguous();
    std::vector<T> prior_rows;
    for (std::int64_t p = 0; p < k; ++p)
      prior_rows.push_back(linears_[static_cast<std::size_t>(p)].forward(normed.select(1, p).contiguous(), ctx).reshape({b, 1, e}));
    const T priors = ops::concat(prior_rows, 1);

    const T bridge = bridging(da.hidden, ctx);  // [B, N, E]
    const T lambda = device_->get<Device>(1, one_minus_lambda_);

    Outputs out;
    out.grid = config_.deit.grid();
    const std::int64_t rows = opt.full ? l : 1;
    const T f_rows = opt.full ? feats : feats.slice(1, 0, 1).contiguous();  // raw F for the DDWM
    T t;  // Σ_p w_p ⊙ F over the computed rows
    T fi = feats;
    std::vector<T> weights, cls_rows;
    for (std::int64_t p = 0; p < k; ++p) {
      fi = norm_vit_.forward(fi, ctx).contiguous();  // cumulative, as the authors' loop
      const T keys = ops::concat(std::vector<T>{priors.slice(1, p, p + 1), bridge}, 1);  // [B, L, E]
      const T s = norm3_.forward(keys, ctx);
      const auto& attn = attention_[config_.per_expert_attention ? static_cast<std::size_t>(p) : 0];
      const auto res = attn.forward(priors.select(1, p).contiguous(), fi, s, config_.sign, !opt.full, ctx);
      // R = (1 − λ) ⊙ FFN(attn_norm(O)) on the computed rows.
      T r = ffn1_.forward(attn_norm_.forward(res.out, ctx), ctx);
      ops::activate_inplace(r, ops::Activation::gelu, ctx);
      r = ffn2_.forward(r, ctx).contiguous();
      ops::mul_inplace(r, lambda, ctx);
      const T w = ddwm_.forward(r.reshape({b * rows, e}), f_rows.reshape({b * rows, e}), ctx);
      const T weighted = ops::mul(w.reshape({b, rows, 1}), f_rows, ctx);
      if (p == 0) t = weighted;
      else ops::add_inplace(t, weighted, ctx);
      weights.push_back(w.reshape({b, rows}).slice(1, 0, 1));
      cls_rows.push_back(res.cls_weights.reshape({b, 1, l}));
    }
    out.expert_weights = to_device<Cpu>(ops::concat(weights, 1));  // [B, K]
    out.cls_attention = to_device<Cpu>(ops::concat(cls_rows, 1));  // [B, K, L]
    out.scores = to_device<Cpu>(score_.forward(t.select(1, 0).contiguous(), ctx)).reshape({b});
    out.similarities = head_.similarities(da.degradation);
    if (opt.intermediates) {
      out.features = to_device<Cpu>(feats);
      out.degradation = da.degradation;
      out.hidden = to_device<Cpu>(da.hidden);
      out.priors = to_device<Cpu>(priors);
      out.tokens = to_device<Cpu>(t);
    }
    return out;
  }

  /// The DA-CLIP input: bilinear (align_corners=False, no antialias) to the CLIP size, then CLIP's
  /// mean/std on top of the ImageNet normalisation x already has.
  template <typename Device>
  Tensor<float, Device> clip_input(const Tensor<float, Device>& x, Context& ctx) const {
    const auto [ch, cw] = head_.image_size();
    ops::InterpolateOptions io;
    io.mode = ops::InterpolateMode::bilinear;
    io.align_corners = false;
    io.antialias = false;
    Tensor<float, Device> y = ops::interpolate(x, ch, cw, ctx, io).contiguous();
    static constexpr float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static constexpr float stdv[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    if constexpr (!nn::on_host<Device>) {  // the same (p − mean) / std, as broadcast ops
      const Tensor<float, Device> m = to_device<Device>(Tensor<float>::from_list({1, 3, 1, 1}, {mean[0], mean[1], mean[2]}));
      const Tensor<float, Device> s = to_device<Device>(Tensor<float>::from_list({1, 3, 1, 1}, {stdv[0], stdv[1], stdv[2]}));
      return ops::div(ops::sub(y, m, ctx), s, ctx);
    } else {
      const std::int64_t plane = ch * cw;
      for (std::int64_t i = 0; i < y.size(0); ++i)
        for (std::int64_t c = 0; c < 3; ++c) {
          float* p = y.data() + (i * 3 + c) * plane;
          for (std::int64_t j = 0; j < plane; ++j) p[j] = (p[j] - mean[c]) / stdv[c];
        }
      return y;
    }
  }

  /// forward() on the CUDA device with host crops; set by biqa/cuda.cuh.
  using HostForward = Outputs (*)(const DRExperts&, const Tensor<float>&, Context&, const Options&);
  static inline HostForward cuda_forward = nullptr;

  /// forward() on ctx.device with host crops (what the scorer calls).
  Outputs forward_on(const Tensor<float>& x, Context& ctx, const Options& opt) const {
    if (ctx.device == DeviceType::cpu) return forward(x, ctx, opt);
    if (!cuda_forward) fail_missing_backend(ctx.device, "DR.Experts");
    return cuda_forward(*this, x, ctx, opt);
  }

  const Config& config() const { return config_; }
  /// The subtraction variant (the weights cannot tell; spec §8.1).
  void set_sign(Sign sign) { config_.sign = sign; }
  const DaClip& da_clip() const { return head_; }
  std::int64_t num_patches() const {
    const auto [gh, gw] = config_.deit.grid();
    return gh * gw;
  }

 private:
  static constexpr const char* ddwm_scope = "decoder.AttentionActivate.active_unit.fc";

  /// L_hidden(H) without the class token, as the CLIP grid, resized to the DeiT grid → [B, N, E].
  template <typename Device>
  Tensor<float, Device> bridging(const Tensor<float, Device>& hidden, Context& ctx) const {
    const std::int64_t b = hidden.size(0), e = config_.deit.embed_dim;
    const auto [ch, cw] = head_.grid();
    const auto [gh, gw] = config_.deit.grid();
    const Tensor<float, Device> h = l_hidden_.forward(hidden, ctx);  // [B, 1 + ch·cw, E]
    const Tensor<float, Device> grid = h.slice(1, 1, 1 + ch * cw).contiguous().reshape({b, ch, cw, e}).permute({0, 3, 1, 2}).contiguous();
    ops::InterpolateOptions io;
    io.mode = ops::InterpolateMode::bilinear;
    io.align_corners = false;
    io.antialias = false;
    const Tensor<float, Device> up = ops::interpolate(grid, gh, gw, ctx, io);
    return up.permute({0, 2, 3, 1}).contiguous().reshape({b, gh * gw, e});
  }

  Config config_;
  nn::VisionTransformer backbone_;
  DaClip head_;
  nn::LayerNorm norm1_, norm_vit_, norm3_, attn_norm_;
  std::vector<nn::Linear> linears_;
  nn::Linear l_hidden_, ffn1_, ffn2_, score_;
  std::vector<dr_experts::DifferentialAttention> attention_;
  Tensor<float> one_minus_lambda_;
  dr_experts::DistortionWeighting ddwm_;
  std::shared_ptr<nn::DeviceWeights> device_ = std::make_shared<nn::DeviceWeights>();  // text features, 1 − λ
  bool loaded_ = false;
};

/// Builds and strictly loads DR.Experts from the authors' state_dict (or a trainer checkpoint's
/// "model"): sizes from the weights and `config` (JSON, see DRExperts::Config::from_json; null:
/// the published model), the DSDM layout from the keys. Throws biqa::Error listing every missing,
/// mis-shaped or unexpected key.
inline DRExperts load_dr_experts(io::WeightStore& store, Context& ctx, const json::Value& config = {},
                                 const clip::Tokenizer* tokenizer = nullptr) {
  const auto root = store.root();
  const json::Value* deit = config.is_object() ? config.find("deit") : nullptr;
  const auto c = DRExperts::Config::from_weights(root, DRExperts::Config::from_json(config),
                                                 deit ? *deit : json::Value());
  DRExperts model(c);
  model.load(root, ctx,
             tokenizer ? tokenizer->tokenize(c.daclip.prompts, static_cast<int>(c.daclip.clip.text.context_length))
                       : Tensor<std::int64_t>());
  store.finish();
  return model;
}
inline DRExperts load_dr_experts(const std::string& path, Context& ctx, const json::Value& config = {},
                                 const clip::Tokenizer* tokenizer = nullptr) {
  io::WeightStore store = io::open_weights(path);
  return load_dr_experts(store, ctx, config, tokenizer);
}

}  // namespace biqa::models

#pragma once
/// @file
/// nn::ClipVisionTransformer: CLIP's image tower in OpenAI's / open_clip 2.24's layout
/// (open_clip/transformer.py VisionTransformer), keys relative to its scope ("visual." in a CLIP
/// state_dict, none in the tower's own):
///   conv1.weight [width, 3, p, p] (no bias) → tokens; class_embedding [width] prepended;
///   positional_embedding [1 + grid², width] added; ln_pre; transformer.resblocks.N; ln_post;
///   the class token (pool_type "tok", or the mean of the patch tokens with "avg") @ proj [width, E].
/// open_clip's attentional pooler (CoCa), patch dropout (training only) and timm towers are not
/// covered; their keys then show up as unexpected in WeightStore::finish().

#include <algorithm>
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
#include "biqa/nn/clip_transformer.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::nn {

class ClipVisionTransformer {
 public:
  /// open_clip's CLIPVisionCfg names; defaults are ViT-B-32's.
  struct Config {
    std::array<std::int64_t, 2> image_size{224, 224};
    std::array<std::int64_t, 2> patch_size{32, 32};
    std::int64_t in_chans = 3;
    std::int64_t width = 768;
    std::int64_t layers = 12;
    std::int64_t head_width = 64;  ///< heads = width / head_width
    double mlp_ratio = 4.0;
    std::int64_t output_dim = 512;  // CLIP's embed_dim (the columns of proj)
    bool quick_gelu = false;
    bool layer_scale = false;       ///< ls_init_value set: ls_1 / ls_2 in every block
    std::string pool_type = "tok";  // "tok" (class token) or "avg" (mean of the patch tokens)
    bool final_ln_after_pool = false;
    bool no_ln_pre = false;
    float eps = 1e-5f;

    std::int64_t heads() const { return width / head_width; }
    std::array<std::int64_t, 2> grid() const { return {image_size[0] / patch_size[0], image_size[1] / patch_size[1]}; }
    std::int64_t num_tokens() const { return 1 + grid()[0] * grid()[1]; }

    /// Fields of an open_clip "vision_cfg" object override `base`.
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "CLIP config: vision_cfg must be an object");
      clip_detail::reject(j, "vision_cfg", {"timm_model_name", "attentional_pool", "act_kwargs"});
      const auto pair = [](const json::Value& v) {
        return v.is_array() ? std::array<std::int64_t, 2>{v.as_array().at(0).as_int(), v.as_array().at(1).as_int()}
                            : std::array<std::int64_t, 2>{v.as_int(), v.as_int()};
      };
      if (const auto* v = j.find("image_size")) base.image_size = pair(*v);
      if (const auto* v = j.find("patch_size")) base.patch_size = pair(*v);
      if (const auto* v = j.find("width")) base.width = v->as_int();
      if (const auto* v = j.find("layers")) base.layers = v->as_int();
      if (const auto* v = j.find("head_width")) base.head_width = v->as_int();
      if (const auto* v = j.find("mlp_ratio")) base.mlp_ratio = v->as_number();
      if (const auto* v = j.find("ls_init_value")) base.layer_scale = !v->is_null();
      if (const auto* v = j.find("pool_type")) base.pool_type = v->as_string();
      if (const auto* v = j.find("final_ln_after_pool")) base.final_ln_after_pool = v->as_bool();
      if (const auto* v = j.find("no_ln_pre")) base.no_ln_pre = v->as_bool();
      if (const auto* v = j.find("pos_embed_type"))
        BIQA_CHECK(v->as_string() == "learnable", ErrorCode::invalid_argument,
                   "CLIP config: vision_cfg.pos_embed_type \"", v->as_string(), "\" is not supported");
      base.eps = clip_detail::layer_norm_eps(j, base.eps);
      return base;
    }

    /// The dims the weights under `scope` determine override `base`: width, in_chans, patch_size,
    /// layers, mlp_ratio, output_dim, layer_scale, no_ln_pre and, unless the configured image size
    /// already fits the positional embedding, a square image size from its length.
    static Config from_weights(const io::WeightStore::Scope& scope, Config base) {
      const auto* conv = scope.record("conv1.weight");
      BIQA_CHECK(conv && conv->shape.rank() == 4, ErrorCode::format, "CLIP vision: ",
                 scope.full_name("conv1.weight"), " [width, 3, p, p] is missing");
      base.width = conv->shape[0];
      base.in_chans = conv->shape[1];
      base.patch_size = {conv->shape[2], conv->shape[3]};
      if (const auto* pos = scope.record("positional_embedding"); pos && pos->shape.rank() == 2) {
        const std::int64_t patches = pos->shape[0] - 1;
        if (base.num_tokens() - 1 != patches) {
          std::int64_t g = 0;
          while ((g + 1) * (g + 1) <= patches) ++g;
          BIQA_CHECK(g * g == patches, ErrorCode::format, "CLIP vision: ", scope.full_name("positional_embedding"),
                     " ", pos->shape.to_string(), " is not 1 + a square grid; give vision_cfg.image_size");
          base.image_size = {g * base.patch_size[0], g * base.patch_size[1]};
        }
      }
      base.layers = ClipTransformer::count_layers(scope.scope("transformer"));
      if (const auto* fc = scope.record("transformer.resblocks.0.mlp.c_fc.weight"); fc && fc->shape.rank() == 2)
        base.mlp_ratio = static_cast<double>(fc->shape[0]) / static_cast<double>(base.width);
      if (const auto* proj = scope.record("proj"); proj && proj->shape.rank() == 2) base.output_dim = proj->shape[1];
      base.layer_scale = scope.has("transformer.resblocks.0.ls_1.gamma");
      base.no_ln_pre = !scope.has("ln_pre.weight");
      return base;
    }
  };

  ClipVisionTransformer() = default;
  explicit ClipVisionTransformer(const Config& config) : config_(config) {
    BIQA_CHECK(config.width > 0 && config.head_width > 0 && config.width % config.head_width == 0,
               ErrorCode::invalid_argument, "nn::ClipVisionTransformer: width ", config.width,
               " is not a multiple of head_width ", config.head_width);
    const auto [gh, gw] = config.grid();
    BIQA_CHECK(config.patch_size[0] > 0 && config.patch_size[1] > 0 && gh > 0 && gw > 0 &&
                   gh * config.patch_size[0] == config.image_size[0] && gw * config.patch_size[1] == config.image_size[1],
               ErrorCode::invalid_argument, "nn::ClipVisionTransformer: image ", config.image_size[0], "x",
               config.image_size[1], " is not a whole number of ", config.patch_size[0], "x", config.patch_size[1],
               " patches");
    BIQA_CHECK(config.pool_type == "tok" || config.pool_type == "avg", ErrorCode::invalid_argument,
               "nn::ClipVisionTransformer: pool_type must be \"tok\" or \"avg\", got \"", config.pool_type, "\"");
    Conv2d::Config c;
    c.in_channels = config.in_chans;
    c.out_channels = config.width;
    c.kernel_size = config.patch_size;
    c.stride = config.patch_size;
    c.bias = false;
    conv1_ = Conv2d(c);
    ln_pre_ = LayerNorm(config.width, config.eps);
    ln_post_ = LayerNorm(config.width, config.eps);
    ClipResidualBlock::Config b;
    b.width = config.width;
    b.heads = config.heads();
    b.mlp_width = static_cast<std::int64_t>(static_cast<double>(config.width) * config.mlp_ratio);
    b.quick_gelu = config.quick_gelu;
    b.layer_scale = config.layer_scale;
    b.eps = config.eps;
    transformer_ = ClipTransformer(config.layers, b);
  }

  void load(const io::WeightStore::Scope& scope) {
    const std::int64_t w = config_.width;
    conv1_.load(scope.scope("conv1"));
    class_embedding_ = scope.take("class_embedding", {w});
    positional_embedding_ = scope.take("positional_embedding", {config_.num_tokens(), w});
    if (!config_.no_ln_pre) ln_pre_.load(scope.scope("ln_pre"));
    transformer_.load(scope.scope("transformer"));
    ln_post_.load(scope.scope("ln_post"));
    if (config_.output_dim > 0) proj_ = scope.take("proj", {w, config_.output_dim});
    device_ = std::make_shared<DeviceWeights>();
  }

  /// images [N, 3, H, W] at the configured size → token sequence after the last block [N, 1 + grid², width].
  /// `prompts` (optional) are learned visual prompt tokens (VPT, as ExIQA tunes them):
  ///   [K, width]          shallow: appended after the image tokens once their positional embedding
  ///                       is added (before ln_pre) and kept through every block;
  ///   [layers, K, width]  deep: block 0 gets prompts[0] appended like the shallow ones; before every
  ///                       later block l the previous block's K prompt outputs are replaced by prompts[l].
  /// Either way the prompt tokens are dropped after the last block, so the result has the image
  /// tokens only.
  /// On any device; `prompts` is a host tensor (copied to the device per call).
  template <typename Device>
  Tensor<float, Device> forward_tokens(const Tensor<float, Device>& images, Context& ctx,
                                       const Tensor<float>& prompts = {}) const {
    BIQA_CHECK(class_embedding_.defined(), ErrorCode::invalid_argument,
               "nn::ClipVisionTransformer: forward() before load()");
    BIQA_CHECK(images.dim() == 4 && images.size(1) == config_.in_chans && images.size(2) == config_.image_size[0] &&
                   images.size(3) == config_.image_size[1],
               ErrorCode::invalid_argument, "nn::ClipVisionTransformer: input must be [N, ", config_.in_chans, ", ",
               config_.image_size[0], ", ", config_.image_size[1], "], got ", images.shape().to_string());
    const std::int64_t n = images.size(0), w = config_.width, t = config_.num_tokens();
    const bool deep = prompts.defined() && prompts.dim() == 3;
    if (prompts.defined())
      BIQA_CHECK((prompts.dim() == 2 && prompts.size(1) == w) ||
                     (deep && prompts.size(0) == transformer_.layers() && prompts.size(2) == w),
                 ErrorCode::invalid_argument, "nn::ClipVisionTransformer: visual prompts must be [K, ", w,
                 "] or [", transformer_.layers(), ", K, ", w, "], got ", prompts.shape().to_string());
    const std::int64_t k = prompts.defined() ? prompts.size(prompts.dim() - 2) : 0;
    const Tensor<float> prompt_rows = prompts.defined() ? prompts.contiguous() : prompts;
    Tensor<float, Device> device_prompts;
    if constexpr (!on_host<Device>)
      if (prompts.defined()) device_prompts = to_device<Device>(prompt_rows);
    // Puts the prompts of `layer` (0 for shallow ones) at tokens t..t+k of every image.
    const auto put_prompts = [&](Tensor<float, Device>& x, std::int64_t layer) {
      if constexpr (on_host<Device>) {
        const float* src = prompt_rows.data() + (deep ? layer * k * w : 0);
        for (std::int64_t b = 0; b < n; ++b) std::copy(src, src + k * w, x.data() + (b * (t + k) + t) * w);
      } else {
        const Tensor<float, Device> rows = deep ? device_prompts.select(0, layer) : device_prompts;  // [K, width]
        x = ops::concat(std::vector<Tensor<float, Device>>{x.slice(1, 0, t), ops::broadcast_to(rows, {n, k, w})}, 1);
      }
    };
    const Tensor<float, Device> patches = conv1_.forward(images, ctx).contiguous();  // [N, width, gh, gw]
    // [class, patches..., prompts...] + positional_embedding (not on the prompts), channels last.
    Tensor<float, Device> x;
    if constexpr (on_host<Device>) {
      x = Tensor<float>({n, t + k, w});
      const float* cls = class_embedding_.data();
      const float* pos = positional_embedding_.data();
      for (std::int64_t b = 0; b < n; ++b) {
        float* dst = x.data() + b * (t + k) * w;
        for (std::int64_t c = 0; c < w; ++c) dst[c] = cls[c] + pos[c];
        const float* src = patches.data() + b * w * (t - 1);
        for (std::int64_t c = 0; c < w; ++c)
          for (std::int64_t p = 1; p < t; ++p) dst[p * w + c] = src[c * (t - 1) + p - 1] + pos[p * w + c];
      }
    } else {  // the same sums: class or patch token + its positional embedding
      const Tensor<float, Device> cls = ops::broadcast_to(device_->get<Device>(0, class_embedding_), {n, 1, w});
      x = ops::concat(std::vector<Tensor<float, Device>>{cls, patches.reshape({n, w, t - 1}).permute({0, 2, 1})}, 1);
      ops::add_inplace(x, device_->get<Device>(1, positional_embedding_), ctx);
    }
    if (k > 0) put_prompts(x, 0);
    if (!config_.no_ln_pre) x = ln_pre_.forward(x, ctx);
    if (k == 0) return transformer_.forward(x, ctx, false);
    for (std::int64_t l = 0; l < transformer_.layers(); ++l) {
      if (deep && l > 0) {
        x = x.contiguous();
        put_prompts(x, l);
      }
      x = transformer_.block(l).forward(x, ctx, false);
    }
    return x.slice(1, 0, t).contiguous();
  }

  /// images [N, 3, H, W] → the projected embeddings [N, output_dim] (the pooled feature
  /// [N, width] when there is no proj).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& images, Context& ctx,
                                const Tensor<float>& prompts = {}) const {
    const Tensor<float, Device> tokens = forward_tokens(images, ctx, prompts);
    const std::int64_t n = tokens.size(0), t = tokens.size(1), w = config_.width;
    // LayerNorm acts per token, so pooling first and normalizing the pooled token is the same
    // for "tok"; for "avg" the order matters and final_ln_after_pool chooses it.
    Tensor<float, Device> pooled;
    if (config_.pool_type == "tok") {
      pooled = ln_post_.forward(tokens.select(1, 0).contiguous(), ctx);
    } else {
      const Tensor<float, Device> src = config_.final_ln_after_pool ? tokens : ln_post_.forward(tokens, ctx);
      if constexpr (on_host<Device>) {
        pooled = Tensor<float>::zeros({n, w});
        for (std::int64_t b = 0; b < n; ++b)
          for (std::int64_t p = 1; p < t; ++p)
            for (std::int64_t c = 0; c < w; ++c) pooled.data()[b * w + c] += src.data()[(b * t + p) * w + c];
        for (std::int64_t i = 0; i < n * w; ++i) pooled.data()[i] /= static_cast<float>(t - 1);
      } else {  // the mean of the patch tokens as an average pool
        pooled = ops::adaptive_avg_pool2d(src.slice(1, 1, t).permute({0, 2, 1}).reshape({n, w, t - 1, 1}), 1, 1, ctx)
                     .reshape({n, w});
      }
      if (config_.final_ln_after_pool) pooled = ln_post_.forward(pooled, ctx);
    }
    if (!proj_.defined()) return pooled;
    return ops::matmul(pooled, device_->get<Device>(2, proj_), ctx);
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  Conv2d conv1_;
  Tensor<float> class_embedding_, positional_embedding_, proj_;
  LayerNorm ln_pre_, ln_post_;
  ClipTransformer transformer_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();  // class, positional, proj
};

}  // namespace biqa::nn

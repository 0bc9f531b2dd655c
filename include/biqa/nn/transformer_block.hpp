#pragma once
/// @file
/// nn::TransformerBlock, timm's pre-norm ViT Block:
///   x = x + ls1(attn(norm1(x)));  x = x + ls2(mlp(norm2(x)))
/// state_dict "norm1.*", "attn.qkv.*", "attn.proj.*", "ls1.gamma", "norm2.*", "mlp.fc1.*",
/// "mlp.fc2.*", "ls2.gamma" (the LayerScale keys only when configured, as timm's init_values).

#include <cstdint>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/attention.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/layer_scale.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/ops/cpu/elementwise.hpp"

namespace biqa::nn {

class TransformerBlock {
 public:
  struct Config {
    std::int64_t dim = 0;
    std::int64_t num_heads = 8;
    double mlp_ratio = 4.0;       ///< hidden = int(dim · mlp_ratio), as timm
    bool qkv_bias = false;        // timm Block's default; ViTs set it
    bool proj_bias = true;
    bool layer_scale = false;     // timm's init_values is set: ls1 / ls2 present
    float norm_eps = 1e-5f;       ///< timm ViTs use 1e-6
    ops::Activation act = ops::Activation::gelu;
  };

  TransformerBlock() = default;
  explicit TransformerBlock(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0 && config.mlp_ratio > 0, ErrorCode::invalid_argument,
               "nn::TransformerBlock: dim and mlp_ratio must be positive");
    norm1_ = LayerNorm(config.dim, config.norm_eps);
    attn_ = Attention({config.dim, config.num_heads, config.qkv_bias, config.proj_bias});
    norm2_ = LayerNorm(config.dim, config.norm_eps);
    Mlp::Config mc;
    mc.in_features = config.dim;
    mc.hidden_features = static_cast<std::int64_t>(static_cast<double>(config.dim) * config.mlp_ratio);
    mc.act = config.act;
    mlp_ = Mlp(mc);
    if (config.layer_scale) ls1_ = LayerScale({config.dim}), ls2_ = LayerScale({config.dim});
  }

  /// Names of the LayerScale parameters: timm's, or facebookresearch DeiT-III's "gamma_1" / "gamma_2".
  struct KeyNames {
    std::string ls1 = "ls1.gamma";
    std::string ls2 = "ls2.gamma";
  };

  void load(const io::WeightStore::Scope& scope) { load(scope, KeyNames()); }
  void load(const io::WeightStore::Scope& scope, const KeyNames& keys) {
    norm1_.load(scope.scope("norm1"));
    attn_.load(scope.scope("attn"));
    norm2_.load(scope.scope("norm2"));
    mlp_.load(scope.scope("mlp"));
    if (config_.layer_scale) {
      ls1_.load(scope, keys.ls1);
      ls2_.load(scope, keys.ls2);
    }
  }

  /// x [B, N, dim] → [B, N, dim].
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx,
                                const ops::BasicAttentionOptions<Device>& attn = {}) const {
    Tensor<float, Device> a = attn_.forward(norm1_.forward(x, ctx), ctx, attn);
    if (config_.layer_scale) ls1_.apply_inplace(a, ctx);
    ops::add_inplace(a, x, ctx);  // a now holds x + ls1(attn(...))
    Tensor<float, Device> m = mlp_.forward(norm2_.forward(a, ctx), ctx);
    if (config_.layer_scale) ls2_.apply_inplace(m, ctx);
    ops::add_inplace(m, a, ctx);
    return m;
  }

  const Config& config() const { return config_; }
  const Attention& attn() const { return attn_; }
  const Mlp& mlp() const { return mlp_; }

 private:
  Config config_;
  LayerNorm norm1_, norm2_;
  Attention attn_;
  Mlp mlp_;
  LayerScale ls1_, ls2_;
};

}  // namespace biqa::nn

#pragma once
/// @file
/// The residual transformer shared by both CLIP towers, in OpenAI's / open_clip 2.24's layout
/// (open_clip/transformer.py: Transformer, ResidualAttentionBlock):
///   resblocks.{i}: x += ls_1(attn(ln_1(x)));  x += ls_2(mlp.c_proj(act(mlp.c_fc(ln_2(x)))))
/// attn is torch's nn.MultiheadAttention (in_proj_weight / in_proj_bias / out_proj), act is
/// QuickGELU (x·σ(1.702x), what OpenAI trained with) or the exact (erf) GELU. ls_1 / ls_2 are
/// LayerScales ("ls_1.gamma") that exist only when open_clip's ls_init_value is set. open_clip
/// runs the blocks sequence-first; here they run batch-first ([N, L, width]), the same math.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/layer_scale.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/multihead_attention.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"

namespace biqa::nn {

namespace clip_detail {

/// open_clip's norm_kwargs may change the LayerNorm eps; other keys are not supported.
inline float layer_norm_eps(const json::Value& cfg, float eps) {
  if (const auto* n = cfg.find("norm_kwargs"); n && n->is_object()) {
    for (const auto& [k, v] : n->as_object()) {
      BIQA_CHECK(k == "eps", ErrorCode::invalid_argument, "CLIP config: norm_kwargs.", k, " is not supported");
      eps = static_cast<float>(v.as_number());
    }
  }
  return eps;
}

/// Configuration keys of open_clip that select parts this implementation does not have.
inline void reject(const json::Value& cfg, const char* tower, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    const auto* v = cfg.find(k);
    const bool set = v && !v->is_null() && !(v->is_bool() && !v->as_bool()) && !(v->is_string() && v->as_string().empty());
    BIQA_CHECK(!set, ErrorCode::unsupported, "CLIP config: ", tower, ".", k, " is not supported");
  }
}

}  // namespace clip_detail

class ClipResidualBlock {
 public:
  struct Config {
    std::int64_t width = 0;
    std::int64_t heads = 1;
    std::int64_t mlp_width = 0;  ///< width · mlp_ratio
    bool quick_gelu = false;
    bool layer_scale = false;  ///< ls_1.gamma / ls_2.gamma present
    float eps = 1e-5f;
  };

  ClipResidualBlock() = default;
  explicit ClipResidualBlock(const Config& config) : config_(config) {
    BIQA_CHECK(config.width > 0 && config.heads > 0 && config.width % config.heads == 0 && config.mlp_width > 0,
               ErrorCode::invalid_argument, "nn::ClipResidualBlock: width ", config.width, " with ", config.heads,
               " heads and MLP width ", config.mlp_width, " is not a valid block");
    ln_1_ = LayerNorm(config.width, config.eps);
    ln_2_ = LayerNorm(config.width, config.eps);
    MultiheadAttention::Config a;
    a.embed_dim = config.width;
    a.num_heads = config.heads;
    a.batch_first = true;
    attn_ = MultiheadAttention(a);
    c_fc_ = Linear(config.width, config.mlp_width);
    c_proj_ = Linear(config.mlp_width, config.width);
    if (config.layer_scale) ls_1_ = LayerScale({config.width}), ls_2_ = LayerScale({config.width});
  }

  void load(const io::WeightStore::Scope& scope) {
    ln_1_.load(scope.scope("ln_1"));
    attn_.load(scope.scope("attn"));
    ln_2_.load(scope.scope("ln_2"));
    c_fc_.load(scope.scope("mlp").scope("c_fc"));
    c_proj_.load(scope.scope("mlp").scope("c_proj"));
    if (config_.layer_scale) {
      ls_1_.load(scope.scope("ls_1"));
      ls_2_.load(scope.scope("ls_2"));
    }
  }

  /// x [N, L, width] → same shape; `causal`: token i attends to tokens ≤ i (the text tower).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx, bool causal) const {
    MultiheadAttention::Masks masks;
    masks.is_causal = causal;
    Tensor<float, Device> a = attn_.forward(ln_1_.forward(x, ctx), ctx, masks);
    if (config_.layer_scale) a = ls_1_.forward(a, ctx);
    ops::add_inplace(a, x, ctx);
    Tensor<float, Device> h = c_fc_.forward(ln_2_.forward(a, ctx), ctx);
    ops::activate_inplace(h, config_.quick_gelu ? ops::Activation::quick_gelu : ops::Activation::gelu, ctx);
    Tensor<float, Device> m = c_proj_.forward(h, ctx);
    if (config_.layer_scale) m = ls_2_.forward(m, ctx);
    ops::add_inplace(m, a, ctx);
    return m;
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  LayerNorm ln_1_, ln_2_;
  MultiheadAttention attn_;
  Linear c_fc_, c_proj_;
  LayerScale ls_1_, ls_2_;
};

/// open_clip's Transformer: "resblocks.{0..layers-1}".
class ClipTransformer {
 public:
  ClipTransformer() = default;
  ClipTransformer(std::int64_t layers, const ClipResidualBlock::Config& block) {
    BIQA_CHECK(layers >= 0, ErrorCode::invalid_argument, "nn::ClipTransformer: negative layer count");
    blocks_.reserve(static_cast<std::size_t>(layers));
    for (std::int64_t i = 0; i < layers; ++i) blocks_.emplace_back(block);
  }

  void load(const io::WeightStore::Scope& scope) {
    const auto resblocks = scope.scope("resblocks");
    for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].load(resblocks.scope(static_cast<int>(i)));
  }

  template <typename Device>
  Tensor<float, Device> forward(Tensor<float, Device> x, Context& ctx, bool causal) const {
    for (const auto& b : blocks_) x = b.forward(x, ctx, causal);
    return x;
  }

  std::int64_t layers() const { return static_cast<std::int64_t>(blocks_.size()); }
  const ClipResidualBlock& block(std::int64_t i) const { return blocks_.at(static_cast<std::size_t>(i)); }

  /// The number of "resblocks.{i}" under `scope` (0 when there are none).
  static std::int64_t count_layers(const io::WeightStore::Scope& scope) {
    const auto resblocks = scope.scope("resblocks");
    std::int64_t n = 0;
    while (resblocks.has_scope(std::to_string(n))) ++n;
    return n;
  }

 private:
  std::vector<ClipResidualBlock> blocks_;
};

}  // namespace biqa::nn

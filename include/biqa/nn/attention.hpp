#pragma once
/// @file
/// nn::Attention, timm's ViT self-attention: one fused "qkv" Linear (dim → 3·dim, rows q, k, v),
/// heads of dim / num_heads, scaled dot-product attention, then the "proj" Linear.

#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/attention.hpp"

namespace biqa::nn {

class Attention {
 public:
  struct Config {
    std::int64_t dim = 0;
    std::int64_t num_heads = 8;
    bool qkv_bias = false;  // timm's default; ViTs set it
    bool proj_bias = true;
  };

  Attention() = default;
  explicit Attention(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0 && config.num_heads > 0 && config.dim % config.num_heads == 0,
               ErrorCode::invalid_argument, "nn::Attention: dim ", config.dim,
               " does not split into ", config.num_heads, " heads");
    qkv_ = Linear(config.dim, 3 * config.dim, config.qkv_bias);
    proj_ = Linear(config.dim, config.dim, config.proj_bias);
  }

  /// Takes "qkv.weight" [3·dim, dim], "qkv.bias" (with qkv_bias), "proj.weight", "proj.bias".
  void load(const io::WeightStore::Scope& scope) {
    qkv_.load(scope.scope("qkv"));
    proj_.load(scope.scope("proj"));
  }

  /// x [B, N, dim] → [B, N, dim]. `attn` carries an optional additive mask / causal flag.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx,
                                const ops::BasicAttentionOptions<Device>& attn = {}) const {
    BIQA_CHECK(x.dim() == 3 && x.size(2) == config_.dim, ErrorCode::invalid_argument,
               "nn::Attention(dim ", config_.dim, "): input must be [B, N, ", config_.dim, "], got ",
               x.shape().to_string());
    const std::int64_t b = x.size(0), n = x.size(1), h = config_.num_heads, d = config_.dim / h;
    // [B, N, 3·dim] viewed as [3, B, H, N, D]: q, k, v without copies.
    const Tensor<float, Device> qkv = qkv_.forward(x, ctx).reshape({b, n, 3, h, d}).permute({2, 0, 3, 1, 4});
    const Tensor<float, Device> o = ops::scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1),
                                                              qkv.select(0, 2), ctx, attn);
    return proj_.forward(o.permute({0, 2, 1, 3}).contiguous().reshape({b, n, config_.dim}), ctx);
  }

  const Config& config() const { return config_; }
  const Linear& qkv() const { return qkv_; }
  const Linear& proj() const { return proj_; }

 private:
  Config config_;
  Linear qkv_, proj_;
};

}  // namespace biqa::nn

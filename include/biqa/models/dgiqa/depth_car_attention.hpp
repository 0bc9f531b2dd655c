#pragma once
/// @file
/// DGIQA's attention layer (Depth-CAR), used twice: CrossSpatialAttentionBlock (the query is the
/// depth map, key and value the RGB map) and SpatialAttentionBlock (query = key = value). Over the
/// L = H·W positions of an NCHW map, with torch.nn.MultiheadAttention's packed in_proj layout
/// (rows q, k, v) and post-norm:
///   O  = MHA(Q0, KV0, KV0)                       heads of dim/heads channels, q scaled by √(1/d) first
///   X1 = norm1(Q0 + O)                           the residual is the query input
///   X2 = norm2(X1 + fc.2(GELU_erf(fc.0(X1))))    LayerNorm eps 1e-5; dropouts are identities
/// The two instances name their submodules differently (KeyNames). The softmax probabilities,
/// averaged over the heads ([N, L, S], as nn.MultiheadAttention returns them with need_weights),
/// are available for explanation.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/detail/weight_packing.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::models::dgiqa {

/// [N, C, H, W] → tokens [N, H·W, C] (token index = W·row + col) and back.
template <typename Device>
Tensor<float, Device> map_to_tokens(const Tensor<float, Device>& x) {
  const std::int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  return x.contiguous().reshape({n, c, hw}).permute({0, 2, 1}).contiguous();
}
template <typename Device>
Tensor<float, Device> tokens_to_map(const Tensor<float, Device>& t, std::int64_t h, std::int64_t w) {
  const std::int64_t n = t.size(0), c = t.size(2);
  return t.permute({0, 2, 1}).contiguous().reshape({n, c, h, w});
}

class DepthCarAttention {
 public:
  struct KeyNames {
    std::string attention, norm1, norm2, ffn;
    static KeyNames cross() { return {"multihead_attn", "norm1", "norm2", "fc"}; }
    static KeyNames refinement() {
      return {"multihead_attn_spatial", "norm1_spatial", "norm2_spatial", "fc_spatial"};
    }
  };

  struct Config {
    std::int64_t dim = 960;
    std::int64_t num_heads = 16;
    std::int64_t ffn_dim = 0;  ///< 0: 4·dim
    float eps = 1e-5f;
    KeyNames names = KeyNames::cross();
  };

  DepthCarAttention() = default;
  explicit DepthCarAttention(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0 && config.num_heads > 0 && config.dim % config.num_heads == 0,
               ErrorCode::invalid_argument, "dgiqa::DepthCarAttention: dim ", config.dim,
               " does not split into ", config.num_heads, " heads");
    if (config_.ffn_dim == 0) config_.ffn_dim = 4 * config_.dim;
    norm1_ = nn::LayerNorm(config_.dim, config_.eps);
    norm2_ = nn::LayerNorm(config_.dim, config_.eps);
    nn::Mlp::Config m;
    m.in_features = config_.dim;
    m.hidden_features = config_.ffn_dim;
    m.act = ops::Activation::gelu;
    m.fc1_name = "0";  // nn.Sequential(Linear, GELU, Linear)
    m.fc2_name = "2";
    ffn_ = nn::Mlp(m);
  }

  void load(const io::WeightStore::Scope& scope) {
    const std::int64_t e = config_.dim;
    const auto attn = scope.scope(config_.names.attention);
    in_weight_ = attn.take_stored("in_proj_weight", {3 * e, e});
    in_bias_ = attn.take("in_proj_bias", {3 * e});
    out_weight_ = attn.take_stored("out_proj.weight", {e, e});
    out_bias_ = attn.take("out_proj.bias", {e});
    norm1_.load(scope.scope(config_.names.norm1));
    norm2_.load(scope.scope(config_.names.norm2));
    ffn_.load(scope.scope(config_.names.ffn));
    device_ = std::make_shared<nn::DeviceWeights>();
    in_packed_ = std::make_shared<ops::PackedOnce>();
    out_packed_ = std::make_shared<ops::PackedOnce>();
  }

  /// query [N, L, dim], key_value [N, S, dim] (tokens) → [N, L, dim], on either device. With
  /// `probs`, the attention probabilities averaged over the heads are stored there as [N, L, S]
  /// (on the host: they are for explanation).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& query, const Tensor<float, Device>& key_value,
                                Context& ctx, Tensor<float>* probs = nullptr) const {
    BIQA_CHECK(in_weight_.defined(), ErrorCode::invalid_argument, "dgiqa::DepthCarAttention: forward() before load()");
    const std::int64_t e = config_.dim, heads = config_.num_heads, d = e / heads;
    BIQA_CHECK(query.dim() == 3 && key_value.dim() == 3 && query.size(2) == e && key_value.size(2) == e &&
                   query.size(0) == key_value.size(0),
               ErrorCode::invalid_argument, "dgiqa::DepthCarAttention(", e, "): query ",
               query.shape().to_string(), " and key/value ", key_value.shape().to_string(),
               " must be [N, L, ", e, "] and [N, S, ", e, "]");
    const std::int64_t n = query.size(0), l = query.size(1);
    const Tensor<float, Device> q0 = query.contiguous();
    // Rows [first, first + count) of the in-projection (q: [0, E), k and v: [E, 3E)).
    auto project = [&](const Tensor<float, Device>& x, std::int64_t first, std::int64_t count) {
      if constexpr (nn::on_host<Device>) {
        return nn::detail::linear_rows(x, in_weight_, *in_packed_, in_bias_.slice(0, first, first + count), ctx,
                                       first, count);
      } else {
        const Tensor<float, Device> w = device_->get_from<Device>(0, [&] { return in_weight_.to_float(); });
        const Tensor<float, Device> b = device_->get<Device>(1, in_bias_);
        return ops::linear(x, w.slice(0, first, first + count), b.slice(0, first, first + count), ctx);
      }
    };
    Tensor<float, Device> q, k, v;
    if (query.data() == key_value.data() && query.shape() == key_value.shape()) {
      const Tensor<float, Device> qkv = project(q0, 0, 3 * e);  // [N, L, 3E]
      q = qkv.slice(2, 0, e), k = qkv.slice(2, e, 2 * e), v = qkv.slice(2, 2 * e, 3 * e);
    } else {
      q = project(q0, 0, e);
      const Tensor<float, Device> kv = project(key_value, e, 2 * e);
      k = kv.slice(2, 0, e), v = kv.slice(2, e, 2 * e);
    }
    // PyTorch scales q before the product.
    const Tensor<float, Device> qh = ops::mul(split_heads(q, heads), 1.0f / std::sqrt(static_cast<float>(d)), ctx);
    Tensor<float, Device> p = ops::matmul(qh, split_heads(k, heads).transpose(2, 3), ctx);  // [N, H, L, S]
    ops::softmax_inplace(p, ctx);
    if (probs) *probs = mean_over_heads(to_device<Cpu>(p));
    const Tensor<float, Device> o =
        ops::matmul(p, split_heads(v, heads), ctx).permute({0, 2, 1, 3}).contiguous().reshape({n, l, e});
    Tensor<float, Device> x;
    if constexpr (nn::on_host<Device>) {
      x = nn::detail::linear_rows(o, out_weight_, *out_packed_, out_bias_, ctx);
    } else {
      x = ops::linear(o, device_->get_from<Device>(2, [&] { return out_weight_.to_float(); }),
                      device_->get<Device>(3, out_bias_), ctx);
    }
    ops::add_inplace(x, q0, ctx);
    x = norm1_.forward(x, ctx);
    Tensor<float, Device> y = ffn_.forward(x, ctx);
    ops::add_inplace(y, x, ctx);
    return norm2_.forward(y, ctx);
  }

  const Config& config() const { return config_; }

 private:
  /// [N, len, E] with a unit last stride (rows possibly strided) as a [N, H, len, E/H] view.
  template <typename Device>
  static Tensor<float, Device> split_heads(const Tensor<float, Device>& t, std::int64_t heads) {
    const std::int64_t d = t.size(2) / heads;
    Strides st{};
    st[0] = t.stride(0), st[1] = d, st[2] = t.stride(1), st[3] = 1;
    return Tensor<float, Device>::borrow(const_cast<float*>(t.data()), Shape{t.size(0), heads, t.size(1), d}, st, t.owner());
  }

  static Tensor<float> mean_over_heads(const Tensor<float>& p) {
    const std::int64_t n = p.size(0), h = p.size(1), ls = p.size(2) * p.size(3);
    Tensor<float> out = Tensor<float>::zeros({n, p.size(2), p.size(3)});
    for (std::int64_t i = 0; i < n; ++i) {
      float* o = out.data() + i * ls;
      for (std::int64_t hi = 0; hi < h; ++hi) {
        const float* src = p.data() + (i * h + hi) * ls;
        for (std::int64_t j = 0; j < ls; ++j) o[j] += src[j];
      }
      for (std::int64_t j = 0; j < ls; ++j) o[j] /= static_cast<float>(h);
    }
    return out;
  }

  Config config_;
  io::StoredWeight in_weight_, out_weight_;  ///< kept packed as Context::weight_packing says
  Tensor<float> in_bias_, out_bias_;
  std::shared_ptr<ops::PackedOnce> in_packed_ = std::make_shared<ops::PackedOnce>();
  std::shared_ptr<ops::PackedOnce> out_packed_ = std::make_shared<ops::PackedOnce>();
  nn::LayerNorm norm1_, norm2_;
  nn::Mlp ffn_;
  std::shared_ptr<nn::DeviceWeights> device_ = std::make_shared<nn::DeviceWeights>();
};

}  // namespace biqa::models::dgiqa

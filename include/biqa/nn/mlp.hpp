#pragma once
/// @file
/// nn::Mlp, timm's Mlp: fc1 → activation → (optional norm) → fc2; state_dict "fc1.*", "norm.*",
/// "fc2.*". Dropout is the identity at inference. The two Linear names are configurable for the
/// same structure under other names (open_clip's "c_fc" / "c_proj", an nn.Sequential's "0" / "2").

#include <cstdint>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/activation.hpp"

namespace biqa::nn {

class Mlp {
 public:
  struct Config {
    std::int64_t in_features = 0;
    std::int64_t hidden_features = 0;  ///< 0: in_features
    std::int64_t out_features = 0;     ///< 0: in_features
    ops::Activation act = ops::Activation::gelu;
    bool bias = true;
    bool norm = false;  // timm's norm_layer: a LayerNorm on the hidden features
    float norm_eps = 1e-5f;
    std::string fc1_name = "fc1";
    std::string fc2_name = "fc2";
  };

  Mlp() = default;
  explicit Mlp(const Config& config) : config_(config) {
    BIQA_CHECK(config.in_features > 0, ErrorCode::invalid_argument, "nn::Mlp: in_features must be positive");
    if (config_.hidden_features == 0) config_.hidden_features = config_.in_features;
    if (config_.out_features == 0) config_.out_features = config_.in_features;
    fc1_ = Linear(config_.in_features, config_.hidden_features, config_.bias);
    fc2_ = Linear(config_.hidden_features, config_.out_features, config_.bias);
    if (config_.norm) norm_ = LayerNorm(config_.hidden_features, config_.norm_eps);
  }

  void load(const io::WeightStore::Scope& scope) {
    fc1_.load(scope.scope(config_.fc1_name));
    if (config_.norm) norm_.load(scope.scope("norm"));
    fc2_.load(scope.scope(config_.fc2_name));
  }

  /// x [..., in] → [..., out].
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    Tensor<float, Device> h = fc1_.forward(x, ctx);
    ops::activate_inplace(h, config_.act, ctx);
    if (config_.norm) h = norm_.forward(h, ctx);
    return fc2_.forward(h, ctx);
  }

  const Config& config() const { return config_; }
  const Linear& fc1() const { return fc1_; }
  const Linear& fc2() const { return fc2_; }

 private:
  Config config_;
  Linear fc1_, fc2_;
  LayerNorm norm_;
};

}  // namespace biqa::nn
